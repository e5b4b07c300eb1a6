import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { CsvFrameChecker, NotOnShape } from '../../assets/ingest/csv-frames.ts';
import { decimalShape, digits } from '../../assets/ingest/field-shapes.ts';

/** Runs bytes (split into chunks of `chunkSize`) through a checker expecting `fields` per record; data starts on line 2. */
async function check(text: string | Buffer, fields = 3, chunkSize = 1 << 16) {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, i + chunkSize));
  const checker = new CsvFrameChecker(fields, 2);
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      out.push(chunk);
      done();
    },
  });
  const finished = await pipeline(Readable.from(chunks), checker, sink).then(
    () => true,
    () => false,
  );
  // A clean file passes through byte for byte; a broken one fails the stream (aborting COPY).
  expect(finished).toBe(checker.problemCount === 0);
  if (finished) expect(Buffer.concat(out).equals(bytes)).toBe(true);
  return checker;
}

/** Streams `text` in chunks of `chunkSize` through `checker`: how many bytes it passed on, and how it failed. */
async function streamThrough(checker: CsvFrameChecker, text: string, chunkSize: number) {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, i + chunkSize));
  let passed = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      passed += chunk.length;
      done();
    },
  });
  const error = await pipeline(Readable.from(chunks), checker, sink).then(
    () => undefined,
    (failure: unknown) => failure,
  );
  return { checker, error, passed };
}

describe('CsvFrameChecker', () => {
  it('counts records and accepts RFC 4180 quoting, CRLF and a missing final newline', async () => {
    for (const chunkSize of [1, 2, 3, 1 << 16]) {
      const checker = await check('a,b,c\r\n"x, ""y""",2,3\r\n"",,\r\n1,2,3', 3, chunkSize);
      expect(checker.problems, `chunk size ${chunkSize}`).toEqual([]);
      expect(checker.records).toBe(4);
    }
  });

  it('maps records to lines when quoted fields hold line breaks', async () => {
    for (const chunkSize of [1, 5, 1 << 16]) {
      const checker = await check('a,"two\nlines",c\nd,e,f\ng,"three\n\nlines",i\nj,k,l\n', 3, chunkSize);
      expect(checker.problems).toEqual([]);
      expect(checker.records).toBe(4);
      expect([1, 2, 3, 4].map((record) => checker.lineOfRecord(record, 2))).toEqual([2, 4, 5, 8]);
    }
  });

  it('reports wrong field counts, stray quotes and an unclosed quote with their lines', async () => {
    const checker = await check('1,2,3\n1,2\n1,2,3,4\n1,a"b,3\n"x"y,2,3\n1,2,"never closed\n1,2,3\n');
    expect(checker.problems).toEqual([
      { line: 3, reason: 'expected 3 fields, found 2' },
      { line: 4, reason: 'expected 3 fields, found 4' },
      { line: 5, reason: 'a quote inside an unquoted field' },
      { line: 6, reason: 'text after a closing quote' },
      { line: 7, reason: 'unclosed quote: the quoted field never ends' },
    ]);
  });

  it('reports a bare carriage return and mixed line ends, which COPY would refuse', async () => {
    for (const chunkSize of [1, 2, 1 << 16]) {
      const checker = await check('1,2,3\r\n1,2\rx,3\r\n1,2,3\n1,2,3\r\n', 3, chunkSize);
      expect(checker.problems, `chunk size ${chunkSize}`).toEqual([
        { line: 3, reason: 'a carriage return inside an unquoted field' },
        { line: 4, reason: 'line ends with LF, earlier lines with CRLF' },
      ]);
    }
  });

  it('reports invalid UTF-8 and NUL bytes by line, also across chunk boundaries', async () => {
    const valid = Buffer.from('1,Zürich,3\n');
    const invalid = Buffer.from([0x31, 0x2c, 0xff, 0xfe, 0x2c, 0x33, 0x0a]); // 1,\xff\xfe,3
    const withNul = Buffer.from('1,a\u0000b,3\n');
    for (const chunkSize of [1, 4, 1 << 16]) {
      const checker = await check(Buffer.concat([valid, invalid, valid, withNul]), 3, chunkSize);
      expect(checker.problems).toEqual([
        { line: 3, reason: 'invalid UTF-8' },
        { line: 5, reason: 'NUL byte' },
      ]);
    }
  });

  it('keeps the first 20 problems and counts all of them', async () => {
    const checker = await check('1,2\n'.repeat(50));
    expect(checker.problems).toHaveLength(20);
    expect(checker.problemCount).toBe(50);
  });
});

describe('CsvFrameChecker for a COPY into typed columns (onlyOnShape)', () => {
  const shapes = [digits(9), decimalShape(10, 2)];

  const run = (text: string, chunkSize = 1 << 16) =>
    streamThrough(
      new CsvFrameChecker(2, 2, { shapes, onlyOnShape: true, total: { column: 1, scale: 2 } }),
      text,
      chunkSize,
    );

  it('adds up a decimal column exactly, whatever its decimals and the chunking', async () => {
    for (const chunkSize of [1, 4, 1 << 16]) {
      const { checker, error } = await run('1,0.5\n2,1\n3,12.34\n4,0.07\n', chunkSize);
      expect(error).toBeUndefined();
      expect(checker.totalUnits).toBe(50n + 100n + 1234n + 7n);
    }
  });

  it('stays exact beyond 2^53 units (where a double would round)', async () => {
    const big = '9999999999.99'; // 999 999 999 999 units, 9 000 of them exceed 2^53
    const { checker } = await run(Array.from({ length: 9000 }, (_, i) => `${i},${big}\n`).join(''));
    expect(checker.totalUnits).toBe(999_999_999_999n * 9000n);
  });

  it('fails with NotOnShape before passing on the chunk of a record that is off its shape', async () => {
    const good = '1,0.50\n'.repeat(100);
    for (const bad of ['2,-1.00\n', '2,1.005\n', 'x,1\n', '1,2,3\n', '"1",1\n']) {
      const { error, passed } = await run(good + bad, good.length);
      expect(error, bad).toBeInstanceOf(NotOnShape);
      expect(passed, bad).toBe(good.length); // the first chunk went on, the bad one never did
    }
    const last = await run('1,0.50\n2,1e3'); // off shape in the last record, without a final newline
    expect(last.error).toBeInstanceOf(NotOnShape);
  });
});

describe('CsvFrameChecker with maxRecordBytes', () => {
  const run = (text: string, maxRecordBytes: number, chunkSize: number) =>
    streamThrough(new CsvFrameChecker(3, 2, { maxRecordBytes }), text, chunkSize);
  const tooLong = (line: number, limit: number) => ({
    line,
    reason: `record longer than ${limit} bytes (PIPELINE_MAX_RECORD_BYTES)`,
  });

  it('passes records of exactly the limit, line breaks (LF or CRLF) not counted', async () => {
    for (const chunkSize of [1, 3, 1 << 16]) {
      for (const eol of ['\n', '\r\n']) {
        const { checker, error } = await run(`aaaa,b,c${eol}1,2,3${eol}aaaa,b,c`, 8, chunkSize);
        expect(error, `${chunkSize} ${JSON.stringify(eol)}`).toBeUndefined();
        expect(checker.records).toBe(3);
      }
    }
  });

  it('reports a longer record at the line it starts on and stops: the rest is neither read nor passed on', async () => {
    for (const chunkSize of [1, 3, 1 << 16]) {
      // Line 3 is a 9-byte record; line 4 is broken too, but the scan never gets there.
      const { checker, error, passed } = await run('1,2,3\naaaaa,b,c\n1,2\n', 8, chunkSize);
      expect(error).toBeInstanceOf(Error);
      expect(checker.problems).toEqual([tooLong(3, 8)]);
      expect(passed).toBeLessThanOrEqual(6 + 8); // the good line and at most the limit
    }
  });

  it('counts a quoted record over several lines as one, named by its first line', async () => {
    for (const chunkSize of [1, 4, 1 << 16]) {
      const { checker } = await run(`1,2,3\n"${'x\n'.repeat(10)}",b,c\n`, 16, chunkSize);
      expect(checker.problems).toEqual([tooLong(3, 16)]);
    }
  });

  it('stops inside a record that never ends, after about the limit, not at the end of the input', async () => {
    const { checker, error, passed } = await run(`1,2,3\n${'x'.repeat(1 << 20)}`, 1024, 4096);
    expect(error).toBeInstanceOf(Error);
    expect(checker.problems).toEqual([tooLong(3, 1024)]);
    expect(passed).toBeLessThan(4096);
  });
});
