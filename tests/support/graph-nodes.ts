/**
 * The real asset graph's nodes as tests name them (`asset[YYYY-MM]`), written out by hand so a
 * test's expectation does not come from the planner it checks.
 */

/** Every month of a range, `YYYY-MM`, ascending. */
export function monthsBetween(from: string, to: string): string[] {
  const index = (key: string) => Number(key.slice(0, 4)) * 12 + Number(key.slice(5, 7)) - 1;
  const months: string[] = [];
  for (let i = index(from); i <= index(to); i++) {
    months.push(`${Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}`);
  }
  return months;
}

/** The partitioned assets outside group market, in the graph's order. */
export const PARTITIONED = [
  'customer_snapshots',
  'segment_distribution',
  'segment_changes',
  'traffic',
  'customer_month_revenue',
  'traffic_value_counts',
  'industry_exposure',
  'top_customers',
  'consistently_active_top_customers',
  'customer_revenue_categories',
  'industry_exposure_extended',
  'descriptive_statistics',
];
export const UNPARTITIONED = ['channels', 'customers', 'customers_revenue_by_period'];
/** The answers that read the 12-month window of customer_month_revenue (or of traffic_value_counts), or such an answer. */
export const WINDOWED_ANSWERS = [
  'industry_exposure',
  'top_customers',
  'consistently_active_top_customers',
  'customer_revenue_categories',
  'industry_exposure_extended',
  'descriptive_statistics',
];

export const nodeId = (asset: string, partition: string | null) =>
  partition ? `${asset}[${partition}]` : asset;
export const nodesOf = (assets: string[], months: string[]) =>
  assets.flatMap((asset) => months.map((month) => nodeId(asset, month)));
