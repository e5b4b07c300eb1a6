import type { TransactionSql } from 'postgres';
import type {
  AssetCheck,
  AssetContext,
  MonthWindow,
  PartitionedCheck,
  PartitionedContext,
} from '../../engine/asset.ts';
import type { PipelineConfig } from '../config.ts';

/**
 * The window's first days as dates (comparing send_date with a timestamp would cast every row and
 * miss the index).
 */
const monthsOf = (sql: TransactionSql, window: MonthWindow) =>
  sql`select unnest(${window.months.map((month) => `${month}-01`)}::text[])::date as month`;

const monthList = (rows: { month: string }[]) => rows.map((row) => row.month.slice(0, 7)).join(', ');

/**
 * error: the rollup this asset read is there and current for every month of its window that has
 * traffic — materialized from the data version traffic has now (a reload of an unchanged file
 * keeps it), or, for rollups recorded before data versions, after traffic was last loaded.
 * Without it an answer would silently leave months out (materialize with `+asset` to bring the
 * rollup along).
 */
export function rollupIsCurrent(rollup: string): PartitionedCheck<PipelineConfig> {
  return rollupCurrentCheck(rollup, (ctx: PartitionedContext<PipelineConfig>) => ctx.window(rollup));
}

/** The same over the months `months` says (none: nothing to check). */
export function rollupCurrentCheck<Context extends AssetContext<PipelineConfig>>(
  rollup: string,
  months: (ctx: Context) => MonthWindow | undefined | Promise<MonthWindow | undefined>,
): AssetCheck<PipelineConfig, Context> {
  return {
    name: `${rollup}_current`,
    severity: 'error',
    description: `${rollup} is materialized, after traffic, for every month of the window with traffic`,
    run: async (ctx) => {
      const window = await months(ctx);
      if (!window) return { passed: true };
      const behind = await ctx.sql<{ month: string }[]>`
        select m.month::text as month from (${monthsOf(ctx.sql, window)}) m
        cross join lateral (select to_char(m.month, 'YYYY-MM') as partition) p
        cross join lateral (select
          exists (select 1 from traffic t where t.send_date >= m.month and t.send_date < m.month + interval '1 month')
            as has_traffic) h
        left join lateral (select data_version, materialized_at from materializations
          where asset_key = 'traffic' and partition_key = p.partition
          order by materialized_at desc, id desc limit 1) t on true
        left join lateral (select inputs, materialized_at from materializations
          where asset_key = ${rollup} and partition_key = p.partition
          order by materialized_at desc, id desc limit 1) r on true
        left join lateral (select i ->> 2 as version from jsonb_array_elements(r.inputs) i
          where i ->> 0 = 'traffic' and i ->> 1 = p.partition) read on true
        where (h.has_traffic and r.materialized_at is null)
          or (read.version is not null and t.data_version is not null and read.version <> t.data_version)
          or ((read.version is null or t.data_version is null) and t.materialized_at > r.materialized_at)
        order by 1`;
      return {
        passed: behind.length === 0,
        message:
          behind.length === 0
            ? undefined
            : `${rollup} is missing or older than traffic for ${monthList(behind)}: materialize those months of ${rollup} (e.g. with +${ctx.assetKey})`,
        metadata: { monthsBehind: behind.length },
      };
    },
  };
}

/**
 * warn: months of the window of `dependency` without any traffic (the answer covers fewer months
 * than it says).
 */
export function windowHasTraffic(dependency: string): PartitionedCheck<PipelineConfig> {
  return {
    name: 'window_has_traffic',
    severity: 'warn',
    description: 'every month of the window has traffic',
    run: async (ctx) => {
      const window = ctx.window(dependency);
      const missing = await ctx.sql<{ month: string }[]>`
        select m.month::text as month from (${monthsOf(ctx.sql, window)}) m
        where not exists (select 1 from traffic t
          where t.send_date >= m.month and t.send_date < m.month + interval '1 month')
        order by 1`;
      return {
        passed: missing.length === 0,
        message: missing.length === 0 ? undefined : `no traffic in ${monthList(missing)}`,
        metadata: { monthsMissing: missing.length },
      };
    },
  };
}
