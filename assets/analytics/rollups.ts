import { defineAsset } from '../../engine/asset.ts';
import type { PipelineConfig } from '../config.ts';

/**
 * Internal monthly rollups of traffic (schema/rollups.ts), each month's traffic read once when it
 * changes. Their partitions are what the 12-month questions read.
 */

export const customerMonthRevenue = defineAsset<PipelineConfig>({
  key: 'customer_month_revenue',
  group: 'rollups',
  description: 'internal: revenue and rows per customer for the month (the customer × month rollup)',
  deps: ['traffic'],
  partitions: 'monthly',
  materialize: async (ctx) => {
    await ctx.sql`delete from customer_month_revenue where month = ${ctx.period}`;
    const written = await ctx.sql`
      insert into customer_month_revenue (month, customer_id, revenue_eur, traffic_rows)
      select ${ctx.period}, customer_id, sum(revenue_eur), count(*)::int
      from traffic where send_date between ${ctx.period} and ${ctx.asOf}
      group by customer_id`;
    await ctx.sql`analyze customer_month_revenue`;
    return { rowCount: written.count };
  },
});

export const trafficValueCounts = defineAsset<PipelineConfig>({
  key: 'traffic_value_counts',
  group: 'rollups',
  description: 'internal: traffic rows per value of interactions_count and revenue_eur in the month',
  deps: ['traffic'],
  partitions: 'monthly',
  materialize: async (ctx) => {
    await ctx.sql`delete from traffic_value_counts where month = ${ctx.period}`;
    // One scan, both columns (grouping sets).
    const written = await ctx.sql`
      insert into traffic_value_counts (month, column_name, value, rows)
      select ${ctx.period},
        case when grouping(interactions_count) = 0 then 'interactions_count' else 'revenue_eur' end,
        coalesce(interactions_count::numeric, revenue_eur), count(*)
      from traffic where send_date between ${ctx.period} and ${ctx.asOf}
      group by grouping sets ((interactions_count), (revenue_eur))`;
    await ctx.sql`analyze traffic_value_counts`; // its readers aggregate ~10⁵ rows: plan with real counts
    return { rowCount: written.count };
  },
});
