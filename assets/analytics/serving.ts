import type { TransactionSql } from 'postgres';
import { defineAsset, type MonthWindow, type UnpartitionedContext } from '../../engine/asset.ts';
import { firstDay, lastDay, type Month, monthKey, monthRange, parseMonth } from '../../engine/months.ts';
import type { PipelineConfig } from '../config.ts';
import { rollupCurrentCheck } from './coverage.ts';

/**
 * docs/contract.md §7: revenue per customer as of D, the last day of L — the latest month with
 * traffic, not the wall-clock date of the run (the seed's "last month" and "MTD" moved with it).
 * Read from the customer × month rollup: every figure is a sum of whole months.
 */

/** L: the latest month with traffic, if any. */
async function latestMonth(sql: TransactionSql): Promise<Month | undefined> {
  const [row] = await sql<{ latest: string | null }[]>`
    select to_char(max(send_date), 'YYYY-MM') as latest from traffic`;
  return row?.latest ? parseMonth(row.latest) : undefined;
}

/** L's window: from the earlier of January of L's year and the start of the quarter before last. */
function monthsNeeded(latest: Month): MonthWindow {
  const quarter = latest - (latest % 3);
  const first = Math.min(latest - (latest % 12), quarter - 6);
  return { months: monthRange(first, latest).map(monthKey), first: firstDay(first), last: lastDay(latest) };
}

export const customersRevenueByPeriod = defineAsset<PipelineConfig>({
  key: 'customers_revenue_by_period',
  group: 'serving',
  description:
    'per customer: revenue of the latest month with traffic, the month before, the quarter before, the year to date and QoQ',
  deps: ['customer_month_revenue', 'customers'],
  checks: [
    rollupCurrentCheck<UnpartitionedContext<PipelineConfig>>('customer_month_revenue', async (ctx) => {
      const latest = await latestMonth(ctx.sql);
      return latest === undefined ? undefined : monthsNeeded(latest);
    }),
  ],
  materialize: async (ctx) => {
    await ctx.sql`delete from customers_revenue_by_period`;
    const latest = await latestMonth(ctx.sql);
    if (latest === undefined) return { rowCount: 0, asOfDate: null };
    const window = monthsNeeded(latest);
    const quarter = latest - (latest % 3);
    const month = (offset: number) => firstDay(latest + offset);
    const written = await ctx.sql`
      insert into customers_revenue_by_period (customer_id, revenue_last_month, revenue_last_quarter, revenue_mtd,
        revenue_ytd, revenue_increase_pct_qoq, as_of_date)
      select customer_id, last_month, last_quarter, mtd, ytd,
        case when quarter_before = 0 then null else round((last_quarter - quarter_before) * 100 / quarter_before, 2) end,
        ${window.last}
      from (
        select c.customer_id,
          coalesce(sum(r.revenue_eur) filter (where r.month = ${month(-1)}), 0) as last_month,
          coalesce(sum(r.revenue_eur) filter (where r.month >= ${firstDay(quarter - 3)} and r.month < ${firstDay(quarter)}), 0)
            as last_quarter,
          coalesce(sum(r.revenue_eur) filter (where r.month >= ${firstDay(quarter - 6)} and r.month < ${firstDay(quarter - 3)}), 0)
            as quarter_before,
          coalesce(sum(r.revenue_eur) filter (where r.month = ${month(0)}), 0) as mtd,
          coalesce(sum(r.revenue_eur) filter (where r.month >= ${firstDay(latest - (latest % 12))}), 0) as ytd
        from customers c
        left join customer_month_revenue r on r.customer_id = c.customer_id
          and r.month between ${window.first} and ${window.last}
        group by c.customer_id
      ) f`;
    return { rowCount: written.count, asOfDate: window.last };
  },
});
