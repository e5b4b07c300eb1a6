import type { TransactionSql } from 'postgres';
import type { AssetContext } from '../../engine/asset.ts';
import type { PipelineConfig } from '../config.ts';
import { type CsvLayout, readHeader } from './csv-file.ts';
import { CsvFrameChecker, NotOnShape } from './csv-frames.ts';
import type { FieldShape } from './field-shapes.ts';
import { type LoadMetadata, loadMetadata, seconds } from './load-metadata.ts';
import {
  createLoadTable,
  indexLikeParent,
  type MonthPartition,
  type SwapOutcome,
  swapIn,
} from './month-partition.ts';
import { copyThrough } from './stage.ts';

export type CopyLoad = CsvLayout & {
  month: MonthPartition;
  /** Every column's shape: a file whose fields all have them holds only values COPY accepts. */
  shapes: Readonly<Record<string, FieldShape>>;
  /** The columns that decide whether a re-load changed anything (all but generated ones). */
  compared: readonly string[];
  /** A decimal column the file's own total is taken of in Node, for the reconciliation check. */
  total: { column: string; scale: number };
  /**
   * Rules no constraint enforces, as SQL returning `bad` (a count) over {load}: any bad row sends
   * the file to the validated path, which reports it by line.
   */
  verify?: readonly string[];
};

export type CopyMetadata = LoadMetadata & {
  path: 'copy';
  outcome: SwapOutcome;
  fileRows: number;
  /** The `total` column's sum over the file, exact, as text. */
  fileTotal: string;
  copySeconds: number;
  indexSeconds: number;
  attachSeconds: number;
};

/** Anything that only the validated path can judge (and report line by line). */
class NeedsValidation extends Error {}

// A repeated key, an unknown reference, a value outside the partition: the validated path reports them.
const VALIDATION_SQLSTATES = new Set(['23505', '23503', '23514']);

/**
 * The fast path of a monthly landing file: when every field has its column's shape, the bytes go
 * straight into a fresh month table with typed columns (no staging, no SQL value scan), which is
 * indexed in bulk and attached — constraints and FKs checked set-based by Postgres. Whatever
 * needs the detailed checks rolls back to a savepoint and returns null; the caller then takes the
 * validated path, which finds the problem again and reports it by line.
 */
export async function loadByCopy(
  ctx: AssetContext<PipelineConfig>,
  load: CopyLoad,
): Promise<CopyMetadata | null> {
  const started = performance.now();
  const header = await readHeader(load);
  try {
    // Ignored columns (traffic_id) cannot be skipped by COPY.
    if (header.columns.some((column) => !load.shapes[column])) return null;
    return await ctx.sql.savepoint(async (tx) => {
      await createLoadTable(tx, load.month);
      const checker = new CsvFrameChecker(header.columns.length, header.firstDataLine, {
        shapes: header.columns.map((column) => load.shapes[column]),
        onlyOnShape: true,
        total: { column: header.columns.indexOf(load.total.column), scale: load.total.scale },
        // A record too long fails the stream (NotOnShape): the validated path rejects the file.
        maxRecordBytes: load.maxRecordBytes,
      });
      const columns = header.columns.map((name) => `"${name}"`).join(', ');
      await copyThrough(
        tx,
        `copy ${load.month.load} (${columns}) from stdin (format csv)`,
        load,
        header,
        checker,
      );
      const copied = performance.now();
      await indexLikeParent(tx, load.month);
      await verify(tx, load);
      const indexed = performance.now();
      const outcome = await swapIn(tx, load.month, load.compared);
      await clearQuarantine(tx, ctx);
      const [loaded] = await tx.unsafe<{ n: number }[]>(
        `select count(*)::int as n from ${load.month.partition}`,
      );
      const finished = performance.now();
      return {
        ...loadMetadata({
          started,
          finished,
          records: checker.records,
          loaded: loaded?.n ?? 0,
          rejected: 0,
          bytes: header.bytes,
        }),
        path: 'copy' as const,
        outcome,
        fileRows: checker.records,
        fileTotal: decimalText(checker.totalUnits, load.total.scale),
        copySeconds: seconds(started, copied),
        indexSeconds: seconds(copied, indexed),
        attachSeconds: seconds(indexed, finished),
      };
    });
  } catch (error) {
    if (error instanceof NotOnShape || error instanceof NeedsValidation) return null;
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && VALIDATION_SQLSTATES.has(code)) return null;
    throw error;
  } finally {
    header.data.destroy(); // read to the end already, unless the fast path stopped first
  }
}

async function verify(tx: TransactionSql, load: CopyLoad): Promise<void> {
  for (const query of load.verify ?? []) {
    const [row] = await tx.unsafe<{ bad: number }[]>(query.replaceAll('{load}', load.month.load));
    if (Number(row?.bad ?? 0) > 0) throw new NeedsValidation();
  }
}

/** The partition's quarantine reflects its latest load only, and this one had no bad rows. */
async function clearQuarantine(tx: TransactionSql, ctx: AssetContext<PipelineConfig>): Promise<void> {
  await tx`delete from rejected_rows where asset = ${ctx.assetKey} and partition = ${ctx.partition ?? ''}`;
}

function decimalText(units: bigint, scale: number): string {
  const text = units.toString().padStart(scale + 1, '0');
  return scale === 0 ? text : `${text.slice(0, -scale)}.${text.slice(-scale)}`;
}
