import type { CustomerRow, LandingZone } from './landing.ts';

/**
 * The answers of docs/contract.md §5–§7 for one partition, computed from the landing files alone —
 * no SQL, nothing of the product's code — so the acceptance test can hold the pipeline's tables
 * against them. Money is integer cents (bigint), percentages are exact rationals rounded half away
 * from zero, quartiles are exact rationals; every answer is rendered as PostgreSQL prints the
 * column (`12.34`, `2026-10-01`, `7`), so a table and its reference compare as plain strings. Only
 * the descriptive statistics are floats (double precision columns), compared with a tolerance.
 */

/** One row of a table as PostgreSQL prints each column (`column::text`). */
export type TextRow = Record<string, string | null>;

export type Statistics = {
  table_name: string;
  column_name: string;
  n: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  median: number | null;
  stddev: number | null;
  q1: number | null;
  q3: number | null;
};

export type ReferenceAnswers = {
  industry_exposure: TextRow[];
  segment_distribution: TextRow[];
  segment_changes: TextRow[];
  top_customers: TextRow[];
  consistently_active_top_customers: TextRow[];
  customer_revenue_categories: TextRow[];
  industry_exposure_extended: TextRow[];
  customers_revenue_by_period: TextRow[];
  descriptive_statistics: Statistics[];
};

// ── numbers ─────────────────────────────────────────────────────────────────────────────────────

/** Decimal text as an integer of 10^-scale units: parseScaled('12.3', 2) = 1230n. */
export function parseScaled(text: string, scale: number): bigint {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  const fraction = match?.[3] ?? '';
  if (!match || fraction.length > scale) throw new Error(`'${text}' is not a decimal with ${scale} places`);
  const value = BigInt(`${match[2]}${fraction.padEnd(scale, '0')}`);
  return match[1] ? -value : value;
}

const cents = (text: string) => parseScaled(text, 2);

/** Hundredths as PostgreSQL prints numeric(p, 2): 1234n → '12.34', -5n → '-0.05'. */
export function formatHundredths(value: bigint): string {
  const size = value < 0n ? -value : value;
  return `${value < 0n ? '-' : ''}${size / 100n}.${String(size % 100n).padStart(2, '0')}`;
}

/** numerator / denominator rounded half away from zero to an integer. */
export function divideRounded(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) throw new Error('division by zero');
  const negative = numerator < 0n !== denominator < 0n;
  const n = numerator < 0n ? -numerator : numerator;
  const d = denominator < 0n ? -denominator : denominator;
  const rounded = (2n * n + d) / (2n * d);
  return negative ? -rounded : rounded;
}

/** 100 × part / whole in hundredths of a percent, rounded half away from zero. */
const percentHundredths = (part: bigint, whole: bigint) => divideRounded(10_000n * part, whole);

/** An exact fraction (of the values' units). */
type Ratio = { num: bigint; den: bigint };

/**
 * percentile_cont(p) of ascending values, p = pNum / pDen: linear interpolation between the
 * values at 0-based positions floor(p·(n−1)) and ceil(p·(n−1)), exactly.
 */
export function percentileCont(sorted: readonly bigint[], pNum: bigint, pDen: bigint): Ratio {
  const scaled = pNum * BigInt(sorted.length - 1); // position × pDen
  const index = Number(scaled / pDen);
  const remainder = scaled % pDen;
  const lo = at(sorted, index);
  const hi = remainder === 0n ? lo : at(sorted, index + 1);
  return { num: lo * pDen + remainder * (hi - lo), den: pDen };
}

/** docs/contract.md §6: Low ≤ Q1 < Mid ≤ Q3 < High. */
function category(value: bigint, q1: Ratio, q3: Ratio): 'Low' | 'Mid' | 'High' {
  if (value * q1.den <= q1.num) return 'Low';
  if (value * q3.den <= q3.num) return 'Mid';
  return 'High';
}

const ascending = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

/** Byte order of the UTF-8 text (collation "C"): how ties between names are broken. */
export const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function at<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new Error(`no item ${index} of ${items.length}`);
  return item;
}

/**
 * n, min, max, mean, median, sample stddev, q1, q3 of integer values in 10^-scale units
 * (docs/contract.md §6): everything exact until the final conversion to a float; NULL where
 * undefined.
 */
export function statisticsOf(
  table_name: string,
  column_name: string,
  values: readonly bigint[],
  scale: number,
): Statistics {
  const n = values.length;
  const unit = 10 ** scale;
  const sorted = [...values].sort(ascending);
  const quantile = (pNum: bigint) => {
    if (n === 0) return null;
    const { num, den } = percentileCont(sorted, pNum, 4n);
    return Number(num) / Number(den) / unit;
  };
  const sum = values.reduce((total, value) => total + value, 0n);
  const squares = values.reduce((total, value) => total + value * value, 0n);
  // Sample variance = (n·Σx² − (Σx)²) / (n·(n − 1)): the numerator is exact, so no cancellation.
  const spread = BigInt(n) * squares - sum * sum;
  return {
    table_name,
    column_name,
    n,
    min: n === 0 ? null : Number(at(sorted, 0)) / unit,
    max: n === 0 ? null : Number(at(sorted, n - 1)) / unit,
    mean: n === 0 ? null : Number(sum) / n / unit,
    median: quantile(2n),
    stddev: n < 2 ? null : Math.sqrt(Number(spread) / (n * (n - 1))) / unit,
    q1: quantile(1n),
    q3: quantile(3n),
  };
}

// ── months (an index year × 12 + month − 1, as in docs/contract.md §2) ──────────────────────────

type Month = number;

export function parseMonthKey(key: string): Month {
  const match = /^(\d{4})-(\d{2})$/.exec(key);
  if (!match) throw new Error(`'${key}' is not a month`);
  return Number(match[1]) * 12 + Number(match[2]) - 1;
}

const monthKey = (month: Month) => `${Math.floor(month / 12)}-${String((month % 12) + 1).padStart(2, '0')}`;
const firstDayOf = (month: Month) => `${monthKey(month)}-01`;
const lastDayOf = (month: Month) => {
  const days = new Date(Date.UTC(Math.floor(month / 12), (month % 12) + 1, 0)).getUTCDate();
  return `${monthKey(month)}-${String(days).padStart(2, '0')}`;
};
const monthsFrom = (first: Month, last: Month) =>
  Array.from({ length: Math.max(0, last - first + 1) }, (_, i) => first + i);

// ── the landing zone as facts ───────────────────────────────────────────────────────────────────

type Traffic = { month: Month; customerId: number; interactions: bigint; revenue: bigint };

type Facts = {
  snapshots: Map<Month, CustomerRow[]>;
  /** Every traffic row once (docs/contract.md §9: exact duplicates are loaded once). */
  traffic: Traffic[];
  /** Revenue in cents per customer and month of send_date. */
  monthRevenue: Map<number, Map<Month, bigint>>;
  channelPrices: bigint[];
};

function factsOf(zone: LandingZone): Facts {
  const unique = new Map<string, string>();
  const traffic: Traffic[] = [];
  const monthRevenue = new Map<number, Map<Month, bigint>>();
  for (const rows of zone.traffic.values()) {
    for (const row of rows) {
      const key = [row.send_date, row.account_id, row.customer_id, row.channel_id].join('|');
      const values = `${row.interactions_count}|${row.revenue_eur}`;
      const seen = unique.get(key);
      if (seen !== undefined) {
        if (seen !== values)
          throw new Error(`conflicting traffic rows for ${key}: the landing zone is invalid`);
        continue;
      }
      unique.set(key, values);
      const fact = {
        month: parseMonthKey(row.send_date.slice(0, 7)),
        customerId: Number(row.customer_id),
        interactions: BigInt(row.interactions_count),
        revenue: cents(row.revenue_eur),
      };
      traffic.push(fact);
      const months = monthRevenue.get(fact.customerId) ?? new Map<Month, bigint>();
      months.set(fact.month, (months.get(fact.month) ?? 0n) + fact.revenue);
      monthRevenue.set(fact.customerId, months);
    }
  }
  const snapshots = new Map([...zone.snapshots].map(([key, rows]) => [parseMonthKey(key), rows]));
  const channelPrices = zone.channels.map((channel) => parseScaled(channel.unit_price_eur, 4));
  return { snapshots, traffic, monthRevenue, channelPrices };
}

/** A customer's revenue over the given months (0 without traffic). */
function revenueOver(facts: Facts, customerId: number, months: readonly Month[]): bigint {
  const byMonth = facts.monthRevenue.get(customerId);
  return months.reduce((total, month) => total + (byMonth?.get(month) ?? 0n), 0n);
}

// ── the answers ─────────────────────────────────────────────────────────────────────────────────

type Member = CustomerRow & { id: number; rev12: bigint };

/** Every answer of docs/contract.md §5–§7 for `partition`, from the landing zone's files. */
export function referenceAnswers(zone: LandingZone, partition: string): ReferenceAnswers {
  const facts = factsOf(zone);
  const p = parseMonthKey(partition);
  const period = firstDayOf(p);
  const w12 = monthsFrom(p - 11, p);
  const snapshot = facts.snapshots.get(p);
  if (!snapshot) throw new Error(`the landing zone has no customer snapshot for ${partition}`);
  // C(P) with rev12, ranked: highest revenue first, ties to the smaller customer_id.
  const ranked: Member[] = snapshot
    .map((row) => ({
      ...row,
      id: Number(row.customer_id),
      rev12: revenueOver(facts, Number(row.customer_id), w12),
    }))
    .sort((a, b) => ascending(b.rev12, a.rev12) || a.id - b.id);
  const industries = industryExposure(ranked);
  const categories = customerRevenueCategories(ranked);
  const trafficW12 = facts.traffic.filter((row) => row.month >= p - 11 && row.month <= p);
  return {
    industry_exposure: industries.map(({ values: _, ...row }) => row),
    segment_distribution: segmentDistribution(ranked),
    segment_changes: segmentChanges(facts, p),
    top_customers: ranked
      .filter((c) => c.rev12 > 0n)
      .slice(0, 20)
      .map((c, i) => ({
        revenue_rank: String(i + 1),
        customer_id: c.customer_id,
        customer_name: c.customer_name,
        industry: c.industry,
        segment: c.segment,
        country: c.country,
        revenue_eur: formatHundredths(c.rev12),
      })),
    consistently_active_top_customers: consistentlyActiveTop(facts, ranked, w12),
    customer_revenue_categories: categories,
    industry_exposure_extended: industryExposureExtended(industries),
    customers_revenue_by_period: customersRevenueByPeriod(facts),
    descriptive_statistics: [
      statisticsOf('channels', 'unit_price_eur', facts.channelPrices, 4),
      statisticsOf(
        'customer_revenue_categories',
        'revenue_eur',
        ranked.map((c) => c.rev12),
        2,
      ),
      statisticsOf(
        'industry_exposure',
        'customer_count',
        industries.map((i) => i.values.count),
        0,
      ),
      statisticsOf(
        'industry_exposure',
        'revenue_eur',
        industries.map((i) => i.values.revenue),
        2,
      ),
      statisticsOf(
        'traffic',
        'interactions_count',
        trafficW12.map((row) => row.interactions),
        0,
      ),
      statisticsOf(
        'traffic',
        'revenue_eur',
        trafficW12.map((row) => row.revenue),
        2,
      ),
    ],
  };

  /** Q1, ordered by revenue_rank; `values` keeps the exact numbers for the statistics. */
  function industryExposure(members: Member[]) {
    const byIndustry = new Map<string, { revenue: bigint; count: bigint; active: number }>();
    for (const c of members) {
      const industry = byIndustry.get(c.industry) ?? { revenue: 0n, count: 0n, active: 0 };
      industry.revenue += c.rev12;
      industry.count += 1n;
      if (c.rev12 > 0n) industry.active += 1;
      byIndustry.set(c.industry, industry);
    }
    const total = members.reduce((sum, c) => sum + c.rev12, 0n);
    return [...byIndustry]
      .sort(([a, x], [b, y]) => ascending(y.revenue, x.revenue) || byteOrder(a, b))
      .map(([industry, values], i) => ({
        values,
        period,
        industry,
        revenue_eur: formatHundredths(values.revenue),
        customer_count: String(values.count),
        active_customer_count: String(values.active),
        revenue_share_pct: formatHundredths(total === 0n ? 0n : percentHundredths(values.revenue, total)),
        revenue_rank: String(i + 1),
      }));
  }

  /** Q2, ordered by segment (byte order). */
  function segmentDistribution(members: Member[]): TextRow[] {
    const counts = new Map<string, bigint>();
    for (const c of members) counts.set(c.segment, (counts.get(c.segment) ?? 0n) + 1n);
    return [...counts]
      .sort(([a], [b]) => byteOrder(a, b))
      .map(([segment, count]) => ({
        period,
        segment,
        customer_count: String(count),
        customer_pct: formatHundredths(percentHundredths(count, BigInt(members.length))),
      }));
  }

  /** §6 customer_revenue_categories, ordered by customer_id. */
  function customerRevenueCategories(members: Member[]): TextRow[] {
    const sorted = members.map((c) => c.rev12).sort(ascending);
    const q1 = percentileCont(sorted, 1n, 4n);
    const q3 = percentileCont(sorted, 3n, 4n);
    return [...members]
      .sort((a, b) => a.id - b.id)
      .map((c) => ({
        period,
        customer_id: c.customer_id,
        revenue_eur: formatHundredths(c.rev12),
        revenue_category: category(c.rev12, q1, q3),
      }));
  }

  /** §6 industry_exposure_extended, ordered by industry (byte order). */
  function industryExposureExtended(rows: ReturnType<typeof industryExposure>): TextRow[] {
    const quartiles = (values: bigint[]) => {
      const sorted = [...values].sort(ascending);
      return [percentileCont(sorted, 1n, 4n), percentileCont(sorted, 3n, 4n)] as const;
    };
    const [revenueQ1, revenueQ3] = quartiles(rows.map((row) => row.values.revenue));
    const [countQ1, countQ3] = quartiles(rows.map((row) => row.values.count));
    return [...rows]
      .sort((a, b) => byteOrder(a.industry, b.industry))
      .map((row) => ({
        period,
        industry: row.industry,
        revenue_eur: row.revenue_eur,
        customer_count: row.customer_count,
        revenue_category: category(row.values.revenue, revenueQ1, revenueQ3),
        customer_count_category: category(row.values.count, countQ1, countQ3),
      }));
  }
}

/** Q3: consecutive snapshots of P-12 … P with different segments, ordered by customer and month. */
function segmentChanges(facts: Facts, p: Month): TextRow[] {
  const history = new Map<number, { month: Month; row: CustomerRow }[]>();
  for (const month of monthsFrom(p - 12, p)) {
    for (const row of facts.snapshots.get(month) ?? []) {
      const id = Number(row.customer_id);
      history.set(id, [...(history.get(id) ?? []), { month, row }]);
    }
  }
  const changes: TextRow[] = [];
  for (const [id, snapshots] of [...history].sort(([a], [b]) => a - b)) {
    for (let i = 1; i < snapshots.length; i++) {
      const before = at(snapshots, i - 1).row;
      const after = at(snapshots, i);
      if (before.segment === after.row.segment) continue;
      changes.push({
        period: firstDayOf(p),
        customer_id: String(id),
        changed_month: firstDayOf(after.month),
        previous_segment: before.segment,
        new_segment: after.row.segment,
        customer_name: after.row.customer_name,
      });
    }
  }
  return changes;
}

/** Q5: the top ceil(10 %) of C(P) by rev12, kept when every month of W12 has revenue; by rank. */
function consistentlyActiveTop(facts: Facts, ranked: Member[], w12: Month[]): TextRow[] {
  const topN = Math.ceil(ranked.length / 10);
  return ranked.slice(0, topN).flatMap((c, i) => {
    const monthly = w12.map((month) => revenueOver(facts, c.id, [month]));
    if (monthly.some((revenue) => revenue <= 0n)) return [];
    const lowest = at([...monthly].sort(ascending), 0);
    return [
      {
        period: firstDayOf(at(w12, w12.length - 1)),
        customer_id: c.customer_id,
        customer_name: c.customer_name,
        revenue_eur: formatHundredths(c.rev12),
        revenue_rank: String(i + 1),
        min_month_revenue_eur: formatHundredths(lowest),
      },
    ];
  });
}

/**
 * §7: as of D, the last day of L (the latest month with traffic), for every customer of any
 * snapshot, ordered by customer_id (last_updated is when it was written: not an answer).
 */
function customersRevenueByPeriod(facts: Facts): TextRow[] {
  const latest = Math.max(...facts.traffic.map((row) => row.month));
  const quarterStart = latest - (latest % 3); // the first month of D's quarter
  const lastQuarter = monthsFrom(quarterStart - 3, quarterStart - 1);
  const quarterBefore = monthsFrom(quarterStart - 6, quarterStart - 4);
  const yearToDate = monthsFrom(latest - (latest % 12), latest);
  const customerIds = new Set<number>();
  for (const rows of facts.snapshots.values())
    for (const row of rows) customerIds.add(Number(row.customer_id));
  return [...customerIds]
    .sort((a, b) => a - b)
    .map((id) => {
      const last = revenueOver(facts, id, lastQuarter);
      const before = revenueOver(facts, id, quarterBefore);
      return {
        customer_id: String(id),
        revenue_last_month: formatHundredths(revenueOver(facts, id, [latest - 1])),
        revenue_last_quarter: formatHundredths(last),
        revenue_mtd: formatHundredths(revenueOver(facts, id, [latest])),
        revenue_ytd: formatHundredths(revenueOver(facts, id, yearToDate)),
        revenue_increase_pct_qoq:
          before === 0n ? null : formatHundredths(percentHundredths(last - before, before)),
        as_of_date: lastDayOf(latest),
      };
    });
}
