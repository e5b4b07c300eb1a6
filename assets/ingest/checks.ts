import type { AssetCheck } from '../../engine/asset.ts';
import type { PipelineConfig } from '../config.ts';

/** warn: a month whose file had a header and no rows (a drop that is probably incomplete). */
export function emptyPartitionCheck(table: string, dateColumn: string): AssetCheck<PipelineConfig> {
  return {
    name: 'non_empty_month',
    severity: 'warn',
    description: `${table} has rows for the month`,
    run: async (ctx) => {
      const rows = ctx.metadata.rowCount;
      return {
        passed: rows > 0,
        message:
          rows > 0
            ? undefined
            : `no ${table} rows for ${ctx.partition} (${dateColumn}): the file had only a header`,
        metadata: { rows },
      };
    },
  };
}
