import type { Sql } from 'postgres';

/** The assets whose answers the summary shows. */
export const SUMMARIZED_ASSETS = ['top_customers', 'industry_exposure', 'segment_distribution'] as const;

const euros = (value: string) =>
  `${Number(value).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} EUR`;

/**
 * A few lines a person reads after a run: the top 5 customers, the top industry and the segment
 * mix of a partition (period = its first day), from the tables the run wrote.
 */
export async function partitionSummary(sql: Sql, period: string): Promise<string[]> {
  const [top, industry, segments] = await Promise.all([
    sql<{ revenue_rank: number; customer_name: string; revenue_eur: string }[]>`
      select revenue_rank, customer_name, revenue_eur::text from top_customers
      where period = ${period} and revenue_rank <= 5 order by revenue_rank`,
    sql<{ industry: string; revenue_eur: string; revenue_share_pct: string }[]>`
      select industry, revenue_eur::text, revenue_share_pct::text from industry_exposure
      where period = ${period} and revenue_rank = 1`,
    sql<{ segment: string; customer_pct: string }[]>`
      select segment, customer_pct::text from segment_distribution
      where period = ${period} order by customer_count desc, segment collate "C"`,
  ]);
  const lines = [`${period.slice(0, 7)} — trailing 12 months:`];
  const first = industry[0];
  if (first) {
    lines.push(
      `  top industry: ${first.industry} (${euros(first.revenue_eur)}, ${first.revenue_share_pct} % of revenue)`,
    );
  }
  if (segments.length > 0) {
    lines.push(`  segment mix: ${segments.map((s) => `${s.segment} ${s.customer_pct} %`).join(', ')}`);
  }
  if (top.length > 0) {
    lines.push('  top customers:');
    for (const customer of top) {
      lines.push(`    ${customer.revenue_rank}. ${customer.customer_name}  ${euros(customer.revenue_eur)}`);
    }
  }
  return lines.length > 1 ? lines : [];
}

/** The demo's answers for a partition: the summary plus segment changes, Q5 and revenue by period. */
export async function demoAnswers(sql: Sql, period: string): Promise<string[]> {
  const [changes, active, byPeriod] = await Promise.all([
    sql<{ n: number }[]>`select count(*)::int as n from segment_changes where period = ${period}`,
    sql<{ customer_name: string; revenue_rank: number; min_month_revenue_eur: string }[]>`
      select customer_name, revenue_rank, min_month_revenue_eur::text from consistently_active_top_customers
      where period = ${period} order by revenue_rank`,
    sql<
      {
        customer_name: string;
        revenue_mtd: string;
        revenue_ytd: string;
        qoq: string | null;
        as_of_date: string;
      }[]
    >`
      select c.customer_name, r.revenue_mtd::text, r.revenue_ytd::text, r.revenue_increase_pct_qoq::text as qoq,
        r.as_of_date::text from customers_revenue_by_period r join customers c using (customer_id)
      order by r.revenue_ytd desc, r.customer_id limit 5`,
  ]);
  const lines = await partitionSummary(sql, period);
  lines.push(`  segment changes in the 12 months: ${changes[0]?.n ?? 0}`);
  const shown = active.slice(0, 5).map((a) => `${a.customer_name} (#${a.revenue_rank})`);
  const more = active.length > shown.length ? `, and ${active.length - shown.length} more` : '';
  lines.push(`  consistently active top customers: ${shown.length === 0 ? 'none' : shown.join(', ') + more}`);
  if (byPeriod.length > 0) {
    lines.push(`  revenue by period as of ${byPeriod[0]?.as_of_date} (top 5 by year to date):`);
    for (const row of byPeriod) {
      lines.push(
        `    ${row.customer_name}  MTD ${euros(row.revenue_mtd)}  YTD ${euros(row.revenue_ytd)}  QoQ ${row.qoq ?? '—'} %`,
      );
    }
  }
  return lines;
}
