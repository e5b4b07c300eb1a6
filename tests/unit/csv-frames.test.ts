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

  async function run(text: string, chunkSize = 1 << 16) {
    const bytes = Buffer.from(text);
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, i + chunkSize));
    const checker = new CsvFrameChecker(2, 2, { shapes, onlyOnShape: true, total: { column: 1, scale: 2 } });
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
