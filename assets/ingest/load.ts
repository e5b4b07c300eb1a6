import type { AssetContext, AssetMetadata } from '../../engine/asset.ts';
import type { PipelineConfig } from '../config.ts';
import type { CsvLayout } from './csv-file.ts';
import { stageCsv } from './stage.ts';
import { validateStaged } from './validate.ts';

export type CsvLoad = CsvLayout & {
  valueRules: Record<string, string>;
  rowChecks?: string[];
  /** Statements that move the validated {stage} into the target table(s); the last one's row count is loaded rows. */
  write: string | string[];
};

/**
 * The ingest pattern shared by every landing file: stage (COPY), validate in SQL, quarantine or
 * reject, then replace the target slice — all inside the asset's transaction, so a rejected file
 * leaves every table exactly as it was.
 */
export async function loadCsv(ctx: AssetContext<PipelineConfig>, load: CsvLoad): Promise<AssetMetadata> {
  const started = performance.now();
  const table = `stage_${ctx.assetKey}`;
  const staged = await stageCsv(ctx.sql, load, table);
  const { rejectedRows } = await validateStaged(ctx.sql, staged, {
    file: load.file,
    asset: ctx.assetKey,
    partition: ctx.partition ?? '',
    runId: ctx.runId,
    allowBadRows: ctx.config.allowBadRows,
    valueRules: load.valueRules,
    rowChecks: load.rowChecks,
  });
  let rowsLoaded = 0;
  for (const statement of [load.write].flat()) {
    const result = await ctx.sql.unsafe(statement.replaceAll('{stage}', table));
    rowsLoaded = result.count;
  }
  const metadata = {
    rowCount: rowsLoaded,
    rowsInFile: staged.records,
    rowsLoaded,
    duplicatesCollapsed: staged.records - rejectedRows - rowsLoaded,
    rowsRejected: rejectedRows,
    bytes: staged.header.bytes,
    seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
  };
  ctx.log.info(metadata, `loaded ${load.file}`);
  return metadata;
}
