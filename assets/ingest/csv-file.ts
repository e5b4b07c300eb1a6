import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { parse } from 'csv-parse/sync';
import type { SourceRead } from '../../engine/asset.ts';
import { InputError } from '../../engine/errors.ts';
import { DEFAULT_MAX_RECORD_BYTES, type PipelineConfig } from '../config.ts';
import { landingZone, outsideMessage } from './landing-path.ts';
import { type Problem, rejectionError } from './problems.ts';

export type CsvLayout = {
  /** The file as named in messages, relative to the landing zone (e.g. traffic/2026-10.csv). */
  file: string;
  path: string;
  /** The landing zone: the file may not be a link to anything outside it. */
  landingDir: string;
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
  /** Byte offset where the data after the header starts. */
  dataOffset: number;
  /** The physical line of the first record. */
  firstDataLine: number;
  bytes: number;
  /** Size and modification time when the header was read. */
  fingerprint: string;
  /** The bytes before the data (BOM and header row): the start of the file's SHA-256. */
  head: Buffer;
  /** Where the file really is (a link within the landing zone resolved): what is read. */
  realPath: string;
};

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const HEADER_PEEK = 64 * 1024;

/** Header names longer than this are cut in messages: a huge header line is not echoed. */
const NAME_SHOWN = 64;

export function landingFile(
  config: Pick<PipelineConfig, 'landingDir' | 'maxRecordBytes'>,
  relative: string,
): Pick<CsvLayout, 'file' | 'path' | 'landingDir' | 'maxRecordBytes'> {
  return {
    file: relative,
    path: join(config.landingDir, relative),
    landingDir: config.landingDir,
    maxRecordBytes: config.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
  };
}

/**
 * Reads and checks the header row: a missing or empty file, a link outside the landing zone, or a
 * missing, unknown or repeated column, is an InputError naming the file (line 1) and the column.
 */
export async function readHeader(layout: CsvLayout): Promise<CsvHeader> {
  const entry = await landingZone(layout.landingDir)(layout.file);
  if (entry.kind === 'outside') throw new InputError(outsideMessage(layout.file));
  if (entry.kind === 'missing') {
    throw new InputError(`${layout.file}: file not found (expected at ${layout.path})`);
  }
  const { info, path: realPath } = entry;
  const handle = await open(realPath);
  const peek = Buffer.alloc(Math.min(HEADER_PEEK, info.size));
  try {
    await handle.read(peek, 0, peek.length, 0);
  } finally {
    await handle.close();
  }
  const start = peek.subarray(0, 3).equals(BOM) ? 3 : 0;
  const newline = peek.indexOf(10, start);
  const end = newline === -1 ? peek.length : newline;
  const text = peek.subarray(start, end).toString('utf8').replace(/\r$/, '');
  if (text.trim() === '') throw new InputError(`${layout.file}:1: header: empty file, expected a header row`);
  if (newline === -1 && info.size > HEADER_PEEK) {
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
  const dataOffset = newline === -1 ? info.size : newline + 1;
  return {
    columns,
    dataOffset,
    firstDataLine: 2,
    bytes: info.size,
    fingerprint: fileFingerprint(info),
    head: Buffer.from(peek.subarray(0, dataOffset)),
    realPath,
  };
}

/** At most `length` characters of `text`, cut with … */
function clip(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length)}…` : text;
}

/** A file's cheap fingerprint: it changes whenever its bytes may have. */
export function fileFingerprint(info: { size: number; mtimeMs: number }): string {
  return `${info.size}:${Math.trunc(info.mtimeMs)}`;
}

export function openData(header: CsvHeader) {
  return createReadStream(header.realPath, { start: header.dataOffset, highWaterMark: 1 << 20 });
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
