import { pipeline } from 'node:stream/promises';
import type { TransactionSql } from 'postgres';
import type { InputError } from '../../engine/errors.ts';
import { type CsvHeader, type CsvLayout, fileHasher, readHeader } from './csv-file.ts';
import { CsvFrameChecker } from './csv-frames.ts';
import type { FieldShape } from './field-shapes.ts';
import { type Problem, rejectionError } from './problems.ts';

export type StagedFile = {
  table: string;
  header: CsvHeader;
  /** Records in the file (after the header), duplicates included. */
  records: number;
  /** Physical line of a record (record numbers are the staging table's `rec`, from 1). */
  lineOf: (record: number) => number;
  /** Every field had its column's shape: the SQL value rules cannot find anything. */
  allOnShape: boolean;
};

// COPY finishes right after its last byte; this only guards against a connection that never answers.
const COPY_SETTLE_TIMEOUT_MS = 5 * 60_000;

/**
 * Streams a landing file into a temporary all-text table (COPY, no parsing in Node), checking
 * its structure on the way. Values are validated afterwards in SQL, set-based; `rec` numbers the
 * records in file order so every problem can be traced to its line.
 */
export async function stageCsv(
  tx: TransactionSql,
  layout: CsvLayout,
  table: string,
  shapes: Readonly<Record<string, FieldShape>> = {},
): Promise<StagedFile> {
  const header = await readHeader(layout);
  const checker = new CsvFrameChecker(header.columns.length, header.firstDataLine, {
    shapes: header.columns.map((column) => shapes[column]),
    maxRecordBytes: layout.maxRecordBytes,
  });
  try {
    const columns = header.columns.map((name) => `"${name}"`).join(', ');
    await tx.unsafe(
      `create temp table ${table} (rec bigint generated always as identity primary key, ${header.columns
        .map((name) => `"${name}" text`)
        .join(', ')}) on commit drop`,
    );
    await copyThrough(tx, `copy ${table} (${columns}) from stdin (format csv)`, layout, header, checker);
  } catch (error) {
    if (checker.problemCount > 0) throw structuralError(layout.file, checker);
    throw error;
  } finally {
    header.data.destroy(); // read to the end already, unless something failed first
  }
  return {
    table,
    header,
    records: checker.records,
    lineOf: (record) => checker.lineOfRecord(record, header.firstDataLine),
    allOnShape: Object.keys(shapes).length > 0 && checker.recordsOffShape === 0,
  };
}

/**
 * Streams the file's data (the rest of the header's read) through `checker` into a COPY … FROM STDIN. A checker
 * that fails the stream aborts the COPY (CopyFail); the timeout only guards against a connection
 * that never answers once the last byte is sent (postgres.js #1173).
 */
export async function copyThrough(
  tx: TransactionSql,
  copyStatement: string,
  layout: CsvLayout,
  header: CsvHeader,
  checker: CsvFrameChecker,
): Promise<void> {
  const copy = await tx.unsafe(copyStatement).writable();
  const hasher = fileHasher(layout, header);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      pipeline(header.data, hasher.stream, checker, copy),
      new Promise<never>((_, reject) => {
        checker.once('end', () => {
          timer = setTimeout(
            () => reject(new Error(`COPY of ${layout.file} did not settle`)),
            COPY_SETTLE_TIMEOUT_MS,
          );
        });
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  layout.onRead?.(hasher.read());
}

function structuralError(file: string, checker: CsvFrameChecker): InputError {
  const problems: Problem[] = checker.problems.map((p) => ({
    line: p.line,
    column: 'row',
    reason: p.reason,
  }));
  return rejectionError(file, problems, checker.problemCount);
}
