import { defineAsset, type PartitionedCheck, type PartitionedContext } from '../../engine/asset.ts';
import type { PipelineConfig } from '../config.ts';
import { rollupIsCurrent, windowHasTraffic } from './coverage.ts';
import { countPeriod, customersWithRevenue } from './revenue.ts';

/**
 * The five business questions of docs/contract.md §5 for partition P, set-based in Postgres. Each
 * replaces exactly its period's rows. Ties go to the smaller customer_id or industry name (byte
 * order, collation "C", the same on every machine); money and percentages round half away from
 * zero.
 */

const W12 = { asset: 'customer_month_revenue', window: 12 };
/** The 12 months of revenue an answer reads: the window its `deps` entry states. */
const w12 = (ctx: PartitionedContext<PipelineConfig>) => ctx.window(W12.asset);
/** The checks of every answer computed from rev12. */
const revenueWindowChecks = [rollupIsCurrent(W12.asset), windowHasTraffic(W12.asset)];

/** error: the industries' revenue adds up to the rollup's total over the window for C(P). */
const industriesAddUp: PartitionedCheck<PipelineConfig> = {
  name: 'revenue_matches_rollup',
  severity: 'error',
  description: 'industry revenue sums to the rollup total of the window for the customers of snapshot P',
  run: async (ctx) => {
    const window = w12(ctx);
    // Both sides as numeric(14,2): compared in SQL, and shown the same way ('0.00', not '0').
    const [row] = await ctx.sql<{ industries: string; rollup: string; equal: boolean }[]>`
      select industries::text, rollup::text, industries = rollup as equal from (select
        (select coalesce(sum(revenue_eur), 0) from industry_exposure where period = ${ctx.period})::numeric(14, 2)
          as industries,
        (select coalesce(sum(r.revenue_eur), 0) from customer_month_revenue r
          join customer_snapshots s on s.customer_id = r.customer_id and s.snapshot_month = ${ctx.period}
          where r.month between ${window.first} and ${window.last})::numeric(14, 2) as rollup) sums`;
    const passed = row?.equal === true;
    return {
      passed,
      message: passed ? undefined : `industries ${row?.industries} EUR, rollup ${row?.rollup} EUR`,
      metadata: { revenueEur: Number(row?.industries ?? 0) },
    };
  },
};

export const industryExposure = defineAsset<PipelineConfig>({
  key: 'industry_exposure',
  group: 'business',
  description: 'Q1: revenue, customers and revenue share per industry over the 12 months to P',
  deps: [W12, 'customer_snapshots'],
  partitions: 'monthly',
  checks: [industriesAddUp, ...revenueWindowChecks],
  materialize: async (ctx) => {
    const window = w12(ctx);
    await ctx.sql`delete from industry_exposure where period = ${ctx.period}`;
    await ctx.sql`
      insert into industry_exposure (period, industry, revenue_eur, customer_count, active_customer_count,
        revenue_share_pct, revenue_rank)
      select ${ctx.period}, industry, revenue_eur, customer_count, active_customer_count,
        case when sum(revenue_eur) over () = 0 then 0
          else round(100 * revenue_eur / sum(revenue_eur) over (), 2) end,
        row_number() over (order by revenue_eur desc, industry collate "C")
      from (
        select industry, sum(revenue_eur) as revenue_eur, count(*)::int as customer_count,
          (count(*) filter (where revenue_eur > 0))::int as active_customer_count
        from (${customersWithRevenue(ctx.sql, window, ctx.period)}) c group by industry
      ) i`;
    const [top] = await ctx.sql<{ industry: string }[]>`
      select industry from industry_exposure where period = ${ctx.period} and revenue_rank = 1`;
    return {
      rowCount: await countPeriod(ctx.sql, 'industry_exposure', ctx.period),
      topIndustry: top?.industry ?? null,
    };
  },
});

/** error: the segments' percentages add up to 100 (± 0.05 of rounding). */
const percentagesAddUp: PartitionedCheck<PipelineConfig> = {
  name: 'percentages_sum_to_100',
  severity: 'error',
  description: 'customer_pct sums to 100 ± 0.05',
  run: async (ctx) => {
    const [row] = await ctx.sql<{ total: string | null }[]>`
      select sum(customer_pct)::text as total from segment_distribution where period = ${ctx.period}`;
    // An empty snapshot has no segments at all: nothing to add up.
    const passed = row?.total === null || Math.abs(Number(row?.total) - 100) <= 0.05;
    return {
      passed,
      message: passed ? undefined : `percentages sum to ${row?.total}`,
      metadata: { total: row?.total ?? null },
    };
  },
};

export const segmentDistribution = defineAsset<PipelineConfig>({
  key: 'segment_distribution',
  group: 'business',
  description: 'Q2: customers per segment in snapshot P, with their share',
  deps: ['customer_snapshots'],
  partitions: 'monthly',
  checks: [percentagesAddUp],
  materialize: async (ctx) => {
    const period = ctx.period;
    await ctx.sql`delete from segment_distribution where period = ${period}`;
    const written = await ctx.sql`
      insert into segment_distribution (period, segment, customer_count, customer_pct)
      select ${period}, segment, count(*)::int, round(100.0 * count(*) / sum(count(*)) over (), 2)
      from customer_snapshots where snapshot_month = ${period} group by segment`;
    return { rowCount: written.count };
  },
});

export const segmentChanges = defineAsset<PipelineConfig>({
  key: 'segment_changes',
  group: 'business',
  description: "Q3: every change of a customer's segment between consecutive snapshots of P-12 … P",
  deps: [{ asset: 'customer_snapshots', window: 13 }],
  partitions: 'monthly',
  materialize: async (ctx) => {
    const period = ctx.period;
    const snapshots = ctx.window('customer_snapshots');
    await ctx.sql`delete from segment_changes where period = ${period}`;
    // Pairs of consecutive snapshots inside the window: a change from P-13 to P-12 is not in it.
    const written = await ctx.sql`
      insert into segment_changes (period, customer_id, changed_month, previous_segment, new_segment, customer_name)
      select ${period}, customer_id, snapshot_month, previous_segment, segment, customer_name
      from (
        select customer_id, snapshot_month, segment, customer_name,
          lag(segment) over (partition by customer_id order by snapshot_month) as previous_segment
        from customer_snapshots where snapshot_month between ${snapshots.first} and ${period}
      ) s
      where previous_segment <> segment`;
    return { rowCount: written.count };
  },
});

/** error: at most 20 rows, ranked 1, 2, 3 … by non-increasing revenue. */
const ranksInOrder: PartitionedCheck<PipelineConfig> = {
  name: 'ranks_in_order',
  severity: 'error',
  description: 'at most 20 rows with ranks 1 … n in order of revenue',
  run: async (ctx) => {
    const [row] = await ctx.sql<{ rows: number; bad: number }[]>`
      select count(*)::int as rows,
        (count(*) filter (where revenue_rank <> position or revenue_eur > previous))::int as bad
      from (select revenue_rank, revenue_eur, row_number() over (order by revenue_rank) as position,
              lag(revenue_eur) over (order by revenue_rank) as previous
            from top_customers where period = ${ctx.period}) t`;
    const passed = (row?.rows ?? 0) <= 20 && row?.bad === 0;
    return {
      passed,
      message: passed ? undefined : `${row?.rows} rows, ${row?.bad} out of order`,
      metadata: { rows: row?.rows ?? 0 },
    };
  },
};

export const topCustomers = defineAsset<PipelineConfig>({
  key: 'top_customers',
  group: 'business',
  description: 'Q4: the 20 customers of snapshot P with the highest revenue over the 12 months to P',
  deps: [W12, 'customer_snapshots'],
  partitions: 'monthly',
  checks: [ranksInOrder, ...revenueWindowChecks],
  materialize: async (ctx) => {
    const window = w12(ctx);
    await ctx.sql`delete from top_customers where period = ${ctx.period}`;
    const written = await ctx.sql`
      insert into top_customers (period, revenue_rank, customer_id, customer_name, industry, segment, country, revenue_eur)
      select ${ctx.period}, row_number() over (order by revenue_eur desc, customer_id), customer_id, customer_name,
        industry, segment, country, revenue_eur
      from (${customersWithRevenue(ctx.sql, window, ctx.period)}) c
      where revenue_eur > 0
      order by revenue_eur desc, customer_id
      limit 20`;
    return { rowCount: written.count };
  },
});

export const consistentlyActiveTopCustomers = defineAsset<PipelineConfig>({
  key: 'consistently_active_top_customers',
  group: 'business',
  description: 'Q5: customers of the top 10 % by 12-month revenue with revenue in each of the 12 months',
  deps: [W12, 'customer_snapshots'],
  partitions: 'monthly',
  checks: revenueWindowChecks,
  materialize: async (ctx) => {
    const window = w12(ctx);
    await ctx.sql`delete from consistently_active_top_customers where period = ${ctx.period}`;
    // Rank all of C(P) first, take the top ceil(10 %), then keep the active ones (the seed filtered first).
    const written = await ctx.sql`
      insert into consistently_active_top_customers (period, customer_id, customer_name, revenue_eur, revenue_rank,
        min_month_revenue_eur)
      select ${ctx.period}, r.customer_id, r.customer_name, r.revenue_eur, r.revenue_rank, m.min_month_revenue_eur
      from (
        select c.*, row_number() over (order by revenue_eur desc, customer_id) as revenue_rank,
          count(*) over () as customers
        from (${customersWithRevenue(ctx.sql, window, ctx.period)}) c
      ) r
      join (
        select customer_id, min(revenue_eur) as min_month_revenue_eur,
          count(*) filter (where revenue_eur > 0) as active_months
        from customer_month_revenue where month between ${window.first} and ${window.last}
        group by customer_id
      ) m using (customer_id)
      where r.revenue_rank <= ceil(0.10 * r.customers) and m.active_months = 12`;
    return { rowCount: written.count };
  },
});
