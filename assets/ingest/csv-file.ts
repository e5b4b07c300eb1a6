import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { parse } from 'csv-parse/sync';
import type { SourceRead } from '../../engine/asset.ts';
import { InputError } from '../../engine/errors.ts';
import { DEFAULT_MAX_RECORD_BYTES, type PipelineConfig } from '../config.ts';
import type { LandingZone } from '../landing/landing-zone.ts';
import { openLandingZone } from '../landing/open-landing-zone.ts';
import { type Problem, rejectionError } from './problems.ts';

export type CsvLayout = {
  /** The file as named in messages, relative to the landing zone (e.g. traffic/2026-10.csv). */
  file: string;
  /** Where the file is read from (a folder or a bucket). */
  zone: LandingZone;
  /** A longer CSV record rejects the file while it streams (PIPELINE_MAX_RECORD_BYTES). */
  maxRecordBytes: number;
  /** The columns the file must have, in any order. */
  columns: readonly string[];
  /** Columns that may appear and are ignored (e.g. traffic_id). */
  ignored?: readonly string[];
  /** Told what was read once the whole file went through: its fingerprint and SHA-256. */
  onRead?: (read: SourceRead) => void;
};

export type CsvHeader = {
  /** Column names in file order; ignored columns keep their name. */
  columns: string[];
  /** The physical line of the first record. */
  firstDataLine: number;
  bytes: number;
  /** The file's fingerprint when it was opened (size and mtime, or size and ETag). */
  fingerprint: string;
  /** The bytes before the data (BOM and header row): the start of the file's SHA-256. */
  head: Buffer;
  /**
   * The rest of the same read, from the first byte after the header: whoever reads the header
   * consumes or destroys it (one read of the file, one GET of an object).
   */
  data: Readable;
};

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const HEADER_PEEK = 64 * 1024;

/** Header names longer than this are cut in messages: a huge header line is not echoed. */
const NAME_SHOWN = 64;

export function landingFile(
  config: Pick<PipelineConfig, 'landingDir' | 's3' | 'maxRecordBytes'>,
  relative: string,
): Pick<CsvLayout, 'file' | 'zone' | 'maxRecordBytes'> {
  return {
    file: relative,
    zone: openLandingZone(config),
    maxRecordBytes: config.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
  };
}

/**
 * Opens the file and reads and checks its header row from the first bytes of the stream: a missing
 * or empty file, a link outside the landing zone, or a missing, unknown or repeated column, is an
 * InputError naming the file (line 1) and the column. The rest of the stream is `data`.
 */
export async function readHeader(layout: CsvLayout): Promise<CsvHeader> {
  const read = await layout.zone.open(layout.file);
  try {
    const { start: peek, ended } = await readStart(read.stream, HEADER_PEEK);
    const header = parseHeader(layout, peek.subarray(0, HEADER_PEEK), ended && peek.length <= HEADER_PEEK);
    const dataOffset = header.newline === -1 ? peek.length : header.newline + 1;
    return {
      columns: header.columns,
      firstDataLine: 2,
      bytes: read.size,
      fingerprint: read.fingerprint,
      head: Buffer.from(peek.subarray(0, dataOffset)),
      data: continued(peek.subarray(dataOffset), read.stream),
    };
  } catch (error) {
    read.stream.destroy();
    throw error;
  }
}

/** The header row of `peek` (the file's first bytes; `whole` when that is the whole file), checked. */
function parseHeader(layout: CsvLayout, peek: Buffer, whole: boolean) {
  const start = peek.subarray(0, 3).equals(BOM) ? 3 : 0;
  const newline = peek.indexOf(10, start);
  const end = newline === -1 ? peek.length : newline;
  const text = peek.subarray(start, end).toString('utf8').replace(/\r$/, '');
  if (text.trim() === '') throw new InputError(`${layout.file}:1: header: empty file, expected a header row`);
  if (newline === -1 && !whole) {
    throw new InputError(`${layout.file}:1: header: no line break in the first ${HEADER_PEEK} bytes`);
  }
  let columns: string[];
  try {
    columns = (parse(text) as string[][])[0] ?? [];
  } catch (error) {
    throw new InputError(`${layout.file}:1: header: ${clip((error as Error).message, 4 * NAME_SHOWN)}`);
  }
  const problems: Problem[] = [];
  const known = new Set([...layout.columns, ...(layout.ignored ?? [])]);
  const seen = new Set<string>();
  for (const column of columns) {
    if (!known.has(column)) {
      problems.push({
        line: 1,
        column: clip(column, NAME_SHOWN) || '(empty)',
        reason: `unknown column (expected ${layout.columns.join(', ')})`,
      });
    } else if (seen.has(column)) problems.push({ line: 1, column, reason: 'repeated column' });
    seen.add(column);
  }
  for (const column of layout.columns) {
    if (!seen.has(column)) problems.push({ line: 1, column, reason: 'missing column' });
  }
  if (problems.length > 0) throw rejectionError(layout.file, problems);
  return { columns, newline };
}

/**
 * The stream's first chunks, up to the first line break or past `limit` bytes, leaving the rest
 * in the stream; `ended` when that was all of it.
 */
async function readStart(stream: Readable, limit: number): Promise<{ start: Buffer; ended: boolean }> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    length += chunk.length;
    if (chunk.includes(10) || length > limit) return { start: Buffer.concat(chunks), ended: false };
  }
  return { start: Buffer.concat(chunks), ended: true };
}

/** `rest` (what the header's read took past the header), then the remainder of `stream`. */
function continued(rest: Buffer, stream: Readable): Readable {
  async function* bytes(): AsyncGenerator<Buffer> {
    if (rest.length > 0) yield rest;
    yield* stream as AsyncIterable<Buffer>;
  }
  return Readable.from(bytes(), { objectMode: false, highWaterMark: 1 << 20 });
}

/** At most `length` characters of `text`, cut with … */
function clip(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length)}…` : text;
}

/**
 * Passes the data through unchanged and hashes it, after the header's bytes: the file's SHA-256
 * comes out of the read that loads it (no second read). `read()` once the stream has ended.
 */
export function fileHasher(layout: CsvLayout, header: CsvHeader) {
  const hash = createHash('sha256').update(header.head);
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  return {
    stream,
    read: (): SourceRead => ({
      name: layout.file,
      fingerprint: header.fingerprint,
      sha256: hash.digest('hex'),
    }),
  };
}
