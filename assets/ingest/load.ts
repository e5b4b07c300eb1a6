import type { TransactionSql } from 'postgres';
import type { AssetContext } from '../../engine/asset.ts';
import type { PipelineConfig } from '../config.ts';
import type { CsvLayout } from './csv-file.ts';
import { type LoadMetadata, loadMetadata, seconds } from './load-metadata.ts';
import type { ValueRule } from './rules.ts';
import { stageCsv } from './stage.ts';
import { validateStaged } from './validate.ts';

export type CsvLoad = CsvLayout & {
  valueRules: Record<string, ValueRule>;
  rowChecks?: string[];
  /** Statements that move the validated {stage} into the target table(s), or a function doing it. */
  write: string | string[] | ((tx: TransactionSql, stage: string) => Promise<void>);
  /** A query returning `n`: the rows of the target slice after the write. */
  countLoaded: string;
};

/**
 * The ingest pattern shared by every landing file: stage (COPY), validate in SQL, quarantine or
 * reject, then replace the target slice — all inside the asset's transaction, so a rejected file
 * leaves every table exactly as it was.
 */
export async function loadCsv(
  ctx: AssetContext<PipelineConfig>,
  load: CsvLoad,
): Promise<LoadMetadata & Record<string, number>> {
  const started = performance.now();
  const table = `stage_${ctx.assetKey}`;
  const shapes = Object.fromEntries(
    Object.entries(load.valueRules).map(([column, rule]) => [column, rule.shape]),
  );
  const staged = await stageCsv(ctx.sql, load, table, shapes);
  const staging = performance.now();
  const { rejectedRows } = await validateStaged(ctx.sql, staged, {
    file: load.file,
    asset: ctx.assetKey,
    partition: ctx.partition ?? '',
    runId: ctx.runId,
    allowBadRows: ctx.config.allowBadRows,
    valueRules: load.valueRules,
    rowChecks: load.rowChecks,
  });
  const validating = performance.now();
  if (typeof load.write === 'function') await load.write(ctx.sql, table);
  else
    for (const statement of [load.write].flat()) await ctx.sql.unsafe(statement.replaceAll('{stage}', table));
  const [loaded] = await ctx.sql.unsafe<{ n: number }[]>(load.countLoaded.replaceAll('{stage}', table));
  const rowsLoaded = loaded?.n ?? 0;
  const metadata = {
    ...loadMetadata({
      started,
      finished: performance.now(),
      records: staged.records,
      loaded: rowsLoaded,
      rejected: rejectedRows,
      bytes: staged.header.bytes,
    }),
    // Where the time goes: COPY into staging, SQL validation, the write into the target.
    stageSeconds: seconds(started, staging),
    validateSeconds: seconds(staging, validating),
    writeSeconds: seconds(validating, performance.now()),
  };
  ctx.log.info(metadata, `loaded ${load.file}`);
  return metadata;
}
