import type { TransactionSql } from 'postgres';
import { defineAsset, type MonthWindow, type PartitionedContext } from '../../engine/asset.ts';
import type { PipelineConfig } from '../config.ts';
import { rollupIsCurrent, windowHasTraffic } from './coverage.ts';
import { countPeriod, customersWithRevenue } from './revenue.ts';

/**
 * docs/contract.md §6: quartile categories and descriptive statistics. Quartiles are exact
 * (percentile_cont, linear interpolation): Low ≤ Q1 < Mid ≤ Q3 < High.
 */

/** The 12 months of revenue the categories read: the window their `deps` entry states. */
const w12 = (ctx: PartitionedContext<PipelineConfig>) => ctx.window('customer_month_revenue');

/** Low / Mid / High of `value` against the quartiles q1 and q3 (columns of the same row). */
const category = (value: string, q1: string, q3: string) =>
  `case when ${value} <= ${q1} then 'Low' when ${value} <= ${q3} then 'Mid' else 'High' end`;

export const customerRevenueCategories = defineAsset<PipelineConfig>({
  key: 'customer_revenue_categories',
  group: 'statistics',
  description: 'every customer of snapshot P with its 12-month revenue and its quartile category',
  deps: [{ asset: 'customer_month_revenue', window: 12 }, 'customer_snapshots'],
  partitions: 'monthly',
  checks: [rollupIsCurrent('customer_month_revenue'), windowHasTraffic('customer_month_revenue')],
  materialize: async (ctx) => {
    const window = w12(ctx);
    await ctx.sql`delete from customer_revenue_categories where period = ${ctx.period}`;
    const written = await ctx.sql`
      insert into customer_revenue_categories (period, customer_id, revenue_eur, revenue_category)
      select ${ctx.period}, c.customer_id, c.revenue_eur, ${ctx.sql.unsafe(category('c.revenue_eur', 'q.q1', 'q.q3'))}
      from (${customersWithRevenue(ctx.sql, window, ctx.period)}) c,
        (select percentile_cont(0.25) within group (order by revenue_eur) as q1,
                percentile_cont(0.75) within group (order by revenue_eur) as q3
         from (${customersWithRevenue(ctx.sql, window, ctx.period)}) r) q`;
    return { rowCount: written.count };
  },
});

export const industryExposureExtended = defineAsset<PipelineConfig>({
  key: 'industry_exposure_extended',
  group: 'statistics',
  description:
    "industry_exposure of P with quartile categories of each industry's revenue and customer count",
  deps: ['industry_exposure'],
  partitions: 'monthly',
  materialize: async (ctx) => {
    const period = ctx.period;
    await ctx.sql`delete from industry_exposure_extended where period = ${period}`;
    const written = await ctx.sql`
      insert into industry_exposure_extended (period, industry, revenue_eur, customer_count, revenue_category,
        customer_count_category)
      select ${period}, i.industry, i.revenue_eur, i.customer_count,
        ${ctx.sql.unsafe(category('i.revenue_eur', 'q.revenue_q1', 'q.revenue_q3'))},
        ${ctx.sql.unsafe(category('i.customer_count', 'q.count_q1', 'q.count_q3'))}
      from industry_exposure i,
        (select percentile_cont(0.25) within group (order by revenue_eur) as revenue_q1,
                percentile_cont(0.75) within group (order by revenue_eur) as revenue_q3,
                percentile_cont(0.25) within group (order by customer_count) as count_q1,
                percentile_cont(0.75) within group (order by customer_count) as count_q3
         from industry_exposure where period = ${period}) q
      where i.period = ${period}`;
    return { rowCount: written.count };
  },
});

/** n, min, max, mean, median, sample stddev, q1, q3 of the values `v` of a query, exactly. */
function statisticsOf(
  sql: TransactionSql,
  table: string,
  column: string,
  values: ReturnType<TransactionSql>,
) {
  return sql`
    select ${table}::text as table_name, ${column}::text as column_name, count(v)::bigint as n, min(v)::float8 as min,
      max(v)::float8 as max, avg(v)::float8 as mean, percentile_cont(0.5) within group (order by v) as median,
      stddev_samp(v)::float8 as stddev, percentile_cont(0.25) within group (order by v) as q1,
      percentile_cont(0.75) within group (order by v) as q3
    from (${values}) x`;
}

/**
 * The same over traffic's rows of the window, from the monthly value counts instead of the rows:
 * the value at 0-based position k is the first whose running count passes k, and quartiles
 * interpolate between two positions exactly as percentile_cont does (in float8). Moments are
 * summed in numeric, so the mean and stddev are exact before the final rounding to float8.
 */
function trafficStatistics(sql: TransactionSql, column: string, window: MonthWindow) {
  return sql`
    with counts as (
      select value, sum(rows)::numeric as c from traffic_value_counts
      where column_name = ${column} and month between ${window.first} and ${window.last}
      group by value),
    running as (select value, sum(c) over (order by value) as upto from counts),
    totals as (select sum(c) as n, min(value) as min, max(value) as max, sum(c * value) as s,
      sum(c * value * value) as s2 from counts),
    positions as (
      select p, (totals.n - 1)::float8 * p as position from totals, (values (0.25::float8), (0.5), (0.75)) q(p)
      where totals.n > 0),
    quantiles as (
      select p, lo + (position - floor(position)) * (hi - lo) as value
      from (
        -- The running count grows with the value: the first value past k is the smallest one past k.
        select p, position, min(value) filter (where upto > floor(position))::float8 as lo,
          min(value) filter (where upto > ceil(position))::float8 as hi
        from positions cross join running group by p, position
      ) bounds)
    select 'traffic'::text as table_name, ${column}::text as column_name, coalesce(n, 0)::bigint as n, min::float8, max::float8,
      (s / n)::float8 as mean, (select value from quantiles where p = 0.5) as median,
      case when n > 1 then sqrt((s2 - s * s / n) / (n - 1))::float8 end as stddev,
      (select value from quantiles where p = 0.25) as q1, (select value from quantiles where p = 0.75) as q3
    from totals`;
}

export const descriptiveStatistics = defineAsset<PipelineConfig>({
  key: 'descriptive_statistics',
  group: 'statistics',
  description:
    'n, min, max, mean, median, stddev and quartiles of the numeric columns of docs/contract.md §6',
  deps: [
    { asset: 'traffic_value_counts', window: 12 },
    'channels',
    'industry_exposure',
    'customer_revenue_categories',
  ],
  partitions: 'monthly',
  checks: [rollupIsCurrent('traffic_value_counts')],
  materialize: async (ctx) => {
    const window = ctx.window('traffic_value_counts');
    const sql = ctx.sql;
    const byPeriod = (table: string, column: string) =>
      statisticsOf(
        sql,
        table,
        column,
        sql`select ${sql(column)} as v from ${sql(table)} where period = ${ctx.period}`,
      );
    await sql`delete from descriptive_statistics where period = ${ctx.period}`;
    await sql`
      insert into descriptive_statistics (period, table_name, column_name, n, min, max, mean, median, stddev, q1, q3)
      select ${ctx.period}, s.* from (
        (${trafficStatistics(sql, 'interactions_count', window)})
        union all (${trafficStatistics(sql, 'revenue_eur', window)})
        union all (${statisticsOf(sql, 'channels', 'unit_price_eur', sql`select unit_price_eur as v from channels`)})
        union all (${byPeriod('industry_exposure', 'revenue_eur')})
        union all (${byPeriod('industry_exposure', 'customer_count')})
        union all (${byPeriod('customer_revenue_categories', 'revenue_eur')})
      ) s`;
    return { rowCount: await countPeriod(sql, 'descriptive_statistics', ctx.period) };
  },
});
