import type { TransactionSql } from 'postgres';
import type { MonthWindow } from '../../engine/asset.ts';

/**
 * C(P) with rev12: every customer of snapshot P, its attributes as in that snapshot, and its
 * revenue over the window from the customer × month rollup (0 when it has none). Every 12-month
 * question starts here, so none of them rescans traffic.
 */
export function customersWithRevenue(sql: TransactionSql, window: MonthWindow, period: string) {
  return sql`
    select s.customer_id, s.customer_name, s.industry, s.segment, s.country,
      coalesce(r.revenue_eur, 0)::numeric(14, 2) as revenue_eur
    from customer_snapshots s
    left join (
      select customer_id, sum(revenue_eur) as revenue_eur from customer_month_revenue
      where month between ${window.first} and ${window.last} group by customer_id
    ) r using (customer_id)
    where s.snapshot_month = ${period}`;
}

/** Rows of `table` for the period, for metadata and checks. */
export async function countPeriod(sql: TransactionSql, table: string, period: string): Promise<number> {
  const [row] = await sql<
    { n: number }[]
  >`select count(*)::int as n from ${sql(table)} where period = ${period}`;
  return row?.n ?? 0;
}
