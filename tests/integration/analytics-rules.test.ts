import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PipelineConfig } from '../../assets/config.ts';
import { assets } from '../../assets/index.ts';
import { AssetGraph } from '../../engine/graph.ts';
import { monthKey, monthRange, parseMonth } from '../../engine/months.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { runInProcess } from '../support/run-plan.ts';
import { createTrafficMonths } from '../support/traffic-partitions.ts';

/**
 * The rules of docs/contract.md §5–§7 on tiny hand-computed data sets: rows are inserted straight
 * into the ingest tables (no landing files, no ingest assets), the rollups and the analytics assets
 * are materialized in-process, and every expected row was worked out by hand.
 *
 * Most cases use P = 2026-06: W12(P) = 2025-07 … 2026-06, P-12 = 2025-06, P-13 = 2025-05.
 */

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const graph = new AssetGraph<PipelineConfig>(assets);
const CONFIG: PipelineConfig = { landingDir: '/nonexistent-landing', exportDir: '/tmp', allowBadRows: 0 };

const P = '2026-06';
const PERIOD = '2026-06-01';

const ROLLUPS = ['customer_month_revenue', 'traffic_value_counts'];
const ANALYTICS = [
  'industry_exposure',
  'segment_distribution',
  'segment_changes',
  'top_customers',
  'consistently_active_top_customers',
  'customer_revenue_categories',
  'industry_exposure_extended',
  'descriptive_statistics',
];

/** Every table a case writes into, emptied before each case (runs cascades to nodes, events, checks). */
const TABLES = [
  'channels',
  'customers',
  'customer_snapshots',
  'traffic',
  ...ROLLUPS,
  ...ANALYTICS,
  'customers_revenue_by_period',
  'runs',
];

/** Each analytics table and its primary key, for checksums in key order. */
const ANALYTICS_KEYS: Record<string, string> = {
  industry_exposure: 'period, industry',
  segment_distribution: 'period, segment',
  segment_changes: 'period, customer_id, changed_month',
  top_customers: 'period, revenue_rank',
  consistently_active_top_customers: 'period, customer_id',
  customer_revenue_categories: 'period, customer_id',
  industry_exposure_extended: 'period, industry',
  descriptive_statistics: 'period, table_name, column_name',
};

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

async function reset(): Promise<void> {
  await database.sql.unsafe(`truncate ${TABLES.join(', ')} cascade`);
}

/** Month keys from `from` to `to`, inclusive. */
function months(from: string, to: string): string[] {
  return monthRange(parseMonth(from), parseMonth(to)).map(monthKey);
}

/** The 12 months of W12(2026-06). */
const W12 = months('2025-07', '2026-06');

type Customer = { id: number; name?: string; segment?: string; industry?: string; country?: string };

const accountOf = (id: number) => 1000 + id;

function attributesOf(customer: Customer) {
  return {
    customer_id: customer.id,
    account_id: accountOf(customer.id),
    customer_name: customer.name ?? `Customer ${customer.id}`,
    segment: customer.segment ?? 'SMB',
    industry: customer.industry ?? 'Retail',
    country: customer.country ?? 'DE',
    created_date: '2020-01-01',
  };
}

/** Channels 1 … n with the given unit prices. */
async function addChannels(prices: string[] = ['0.0100']): Promise<void> {
  const rows = prices.map((price, index) => ({
    channel_id: index + 1,
    channel_name: `Channel ${index + 1}`,
    channel_type: 'sms',
    unit_price_eur: price,
  }));
  await database.sql`insert into channels ${database.sql(rows)}`;
}

/** Rows of the `customers` table (what traffic's FK and customers_revenue_by_period read). */
async function addCustomers(customers: Customer[]): Promise<void> {
  if (customers.length === 0) return;
  await database.sql`insert into customers ${database.sql(customers.map(attributesOf))}`;
}

/** The snapshot of `month` (YYYY-MM) holding exactly these customers. */
async function addSnapshot(month: string, customers: Customer[]): Promise<void> {
  if (customers.length === 0) return;
  const rows = customers.map((customer) => ({ snapshot_month: `${month}-01`, ...attributesOf(customer) }));
  await database.sql`insert into customer_snapshots ${database.sql(rows)}`;
}

/** Customers in `customers` and, unchanged, in the snapshot of every month listed. */
async function addCustomersIn(snapshotMonths: string[], customers: Customer[]): Promise<void> {
  await addCustomers(customers);
  for (const month of snapshotMonths) await addSnapshot(month, customers);
}

type TrafficRow = {
  customer: number;
  date: string;
  revenue: string;
  interactions?: number;
  channel?: number;
};

async function addTraffic(rows: TrafficRow[]): Promise<void> {
  if (rows.length === 0) return;
  const values = rows.map((row) => ({
    send_date: row.date,
    account_id: accountOf(row.customer),
    customer_id: row.customer,
    channel_id: row.channel ?? 1,
    interactions_count: row.interactions ?? 1,
    revenue_eur: row.revenue,
  }));
  await createTrafficMonths(
    database.sql,
    rows.map((row) => row.date),
  );
  await database.sql`insert into traffic ${database.sql(values)}`;
}

/** One traffic row on `day` of each month listed. */
function monthly(customer: number, monthKeys: string[], revenue: string, day = '15'): TrafficRow[] {
  return monthKeys.map((month) => ({ customer, date: `${month}-${day}`, revenue }));
}

async function materialize(selection: string[], partitions?: { from: string; to?: string }) {
  const { runId, result, detail } = await runInProcess({
    database,
    graph,
    selection,
    partitions: partitions && { from: partitions.from, to: partitions.to ?? partitions.from },
    config: CONFIG,
  });
  if (!detail) throw new Error(`run ${runId} was not recorded`);
  const node = (key: string, partition = '') => {
    const found = detail.nodes.find((n) => n.assetKey === key && n.partitionKey === partition);
    if (!found) throw new Error(`no node ${key}[${partition}] in run ${runId}`);
    return found;
  };
  return { result, detail, node };
}

/** Materializes and expects every node to succeed (the failures are shown if not). */
async function materializeOk(selection: string[], partitions?: { from: string; to?: string }) {
  const run = await materialize(selection, partitions);
  const failures = run.detail.nodes
    .filter((n) => n.status !== 'succeeded')
    .map((n) => `${n.assetKey}[${n.partitionKey}] ${n.status}: ${n.error ?? ''}`);
  expect(failures).toEqual([]);
  return run;
}

/** Both traffic rollups for every month from `from` to `to`. */
const materializeRollups = (from: string, to = from) => materializeOk(ROLLUPS, { from, to });

// Readers: one per table, in key order, every value as the exact text or number stored.

async function industryExposure(period = PERIOD) {
  return [
    ...(await database.sql`
      select industry, revenue_eur::text, customer_count, active_customer_count, revenue_share_pct::text,
        revenue_rank
      from industry_exposure where period = ${period} order by revenue_rank`),
  ];
}

async function segmentDistribution(period = PERIOD) {
  return [
    ...(await database.sql`
      select segment, customer_count, customer_pct::text
      from segment_distribution where period = ${period} order by segment`),
  ];
}

async function segmentChanges(period = PERIOD) {
  return [
    ...(await database.sql`
      select customer_id, changed_month::text, previous_segment, new_segment, customer_name
      from segment_changes where period = ${period} order by customer_id, changed_month`),
  ];
}

async function topCustomers(period = PERIOD) {
  return [
    ...(await database.sql`
      select revenue_rank, customer_id, customer_name, industry, segment, country, revenue_eur::text
      from top_customers where period = ${period} order by revenue_rank`),
  ];
}

async function consistentlyActive(period = PERIOD) {
  return [
    ...(await database.sql`
      select customer_id, customer_name, revenue_eur::text, revenue_rank, min_month_revenue_eur::text
      from consistently_active_top_customers where period = ${period} order by customer_id`),
  ];
}

async function revenueCategories(period = PERIOD) {
  return [
    ...(await database.sql`
      select customer_id, revenue_eur::text, revenue_category
      from customer_revenue_categories where period = ${period} order by customer_id`),
  ];
}

async function industryExposureExtended(period = PERIOD) {
  return [
    ...(await database.sql`
      select industry, revenue_eur::text, customer_count, revenue_category, customer_count_category
      from industry_exposure_extended where period = ${period} order by industry`),
  ];
}

type Statistics = {
  n: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  median: number | null;
  stddev: number | null;
  q1: number | null;
  q3: number | null;
};

async function descriptiveStatistics(period = PERIOD): Promise<Record<string, Statistics>> {
  const rows = await database.sql<({ name: string } & Statistics)[]>`
    select table_name || '.' || column_name as name, n::int as n, min, max, mean, median, stddev, q1, q3
    from descriptive_statistics where period = ${period} order by table_name, column_name`;
  return Object.fromEntries(rows.map(({ name, ...statistics }) => [name, statistics]));
}

async function revenueByPeriod() {
  return [
    ...(await database.sql`
      select customer_id, revenue_last_month::text, revenue_last_quarter::text, revenue_mtd::text,
        revenue_ytd::text, revenue_increase_pct_qoq::text, as_of_date::text
      from customers_revenue_by_period order by customer_id`),
  ];
}

/** Every statistic equal within 1e-9 relative (exactly for 0 and NULL). */
function expectStatistics(actual: Record<string, Statistics>, expected: Record<string, Statistics>) {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [name, want] of Object.entries(expected)) {
    const got = actual[name];
    for (const [field, value] of Object.entries(want) as [keyof Statistics, number | null][]) {
      const label = `${name}.${field}`;
      const actualValue = got?.[field];
      if (value === null || value === 0) {
        expect(actualValue, label).toBe(value);
      } else {
        expect(typeof actualValue, label).toBe('number');
        const error = Math.abs((actualValue as number) - value) / Math.abs(value);
        expect(error, `${label}: got ${actualValue}, want ${value}`).toBeLessThanOrEqual(1e-9);
      }
    }
  }
}

/** md5 of every row of a table (all columns as text) in key order. */
async function checksum(table: string, key: string): Promise<string> {
  const order = key
    .split(', ')
    .map((column) => `t.${column}`)
    .join(', ');
  const [row] = await database.sql.unsafe<{ md5: string }[]>(
    `select md5(coalesce(string_agg(t::text, '|' order by ${order}), '')) as md5 from ${table} t`,
  );
  return row?.md5 ?? '';
}

// ---------------------------------------------------------------------------------------------
// Q2 / Q3: segments
// ---------------------------------------------------------------------------------------------

describe('segment_changes (Q3): the window P-12 … P of snapshots', () => {
  beforeAll(async () => {
    await reset();
    // 1: SMB → Enterprise between P-13 and P-12: outside the window.
    await addSnapshot('2025-05', [{ id: 1, name: 'Edge Old', segment: 'SMB' }]);
    await addSnapshot('2025-06', [{ id: 1, name: 'Edge Old', segment: 'Enterprise' }]);
    await addSnapshot('2026-06', [{ id: 1, name: 'Edge Old', segment: 'Enterprise' }]);
    // 2: SMB → Mid-Market between P-12 and P-11: inside; renamed in the later snapshot.
    await addSnapshot('2025-06', [{ id: 2, name: 'Beta Old', segment: 'SMB' }]);
    await addSnapshot('2025-07', [{ id: 2, name: 'Beta New', segment: 'Mid-Market' }]);
    await addSnapshot('2026-06', [{ id: 2, name: 'Beta New', segment: 'Mid-Market' }]);
    // 3: a change from P-1 to P, renamed at P.
    await addSnapshot('2026-05', [{ id: 3, name: 'Gamma May', segment: 'SMB' }]);
    await addSnapshot('2026-06', [{ id: 3, name: 'Gamma June', segment: 'Enterprise' }]);
    // 4: A → B → A, two rows, each named after its later snapshot.
    await addSnapshot('2025-10', [{ id: 4, name: 'Delta', segment: 'SMB' }]);
    await addSnapshot('2025-11', [{ id: 4, name: 'Delta', segment: 'Enterprise' }]);
    await addSnapshot('2025-12', [{ id: 4, name: 'Delta Renamed', segment: 'SMB' }]);
    // 5: consecutive snapshots need not be consecutive months (no snapshot in 2025-09).
    await addSnapshot('2025-08', [{ id: 5, name: 'Epsilon', segment: 'SMB' }]);
    await addSnapshot('2025-10', [{ id: 5, name: 'Epsilon', segment: 'Enterprise' }]);
    // 6: a change after P (P → P+1) belongs to P+1 only.
    await addSnapshot('2026-06', [{ id: 6, name: 'Zeta', segment: 'SMB' }]);
    await addSnapshot('2026-07', [{ id: 6, name: 'Zeta Later', segment: 'Enterprise' }]);
  });

  it('reports P-12 → P-11 and P-1 → P, not P-13 → P-12; A → B → A is two rows; names from the later snapshot', async () => {
    await materializeOk(['segment_changes'], { from: P });
    expect(await segmentChanges()).toEqual([
      {
        customer_id: 2,
        changed_month: '2025-07-01',
        previous_segment: 'SMB',
        new_segment: 'Mid-Market',
        customer_name: 'Beta New',
      },
      {
        customer_id: 3,
        changed_month: '2026-06-01',
        previous_segment: 'SMB',
        new_segment: 'Enterprise',
        customer_name: 'Gamma June',
      },
      {
        customer_id: 4,
        changed_month: '2025-11-01',
        previous_segment: 'SMB',
        new_segment: 'Enterprise',
        customer_name: 'Delta',
      },
      {
        customer_id: 4,
        changed_month: '2025-12-01',
        previous_segment: 'Enterprise',
        new_segment: 'SMB',
        customer_name: 'Delta Renamed',
      },
      {
        customer_id: 5,
        changed_month: '2025-10-01',
        previous_segment: 'SMB',
        new_segment: 'Enterprise',
        customer_name: 'Epsilon',
      },
    ]);
  });

  it('one month later the window moves: 2025-06 → 2025-07 is now P-13 → P-12 (gone), 2026-06 → 2026-07 is in', async () => {
    await materializeOk(['segment_changes'], { from: '2026-07' });
    expect(
      (await segmentChanges('2026-07-01')).map((row) => `${row.customer_id}@${row.changed_month}`),
    ).toEqual(['3@2026-06-01', '4@2025-11-01', '4@2025-12-01', '5@2025-10-01', '6@2026-07-01']);
    expect((await segmentChanges('2026-07-01')).at(-1)).toEqual({
      customer_id: 6,
      changed_month: '2026-07-01',
      previous_segment: 'SMB',
      new_segment: 'Enterprise',
      customer_name: 'Zeta Later',
    });
    // P's rows are untouched by materializing P+1.
    expect(await segmentChanges()).toHaveLength(5);
  });

  it('segment_distribution (Q2) counts the segments of snapshot P only, with rounded shares', async () => {
    // Snapshot 2026-06: 1 Enterprise, 2 Mid-Market, 3 Enterprise, 6 SMB.
    await materializeOk(['segment_distribution'], { from: P });
    expect(await segmentDistribution()).toEqual([
      { segment: 'Enterprise', customer_count: 2, customer_pct: '50.00' },
      { segment: 'Mid-Market', customer_count: 1, customer_pct: '25.00' },
      { segment: 'SMB', customer_count: 1, customer_pct: '25.00' },
    ]);
    // Snapshot 2026-07 holds only customer 6: one segment, 100 %.
    await materializeOk(['segment_distribution'], { from: '2026-07' });
    expect(await segmentDistribution('2026-07-01')).toEqual([
      { segment: 'Enterprise', customer_count: 1, customer_pct: '100.00' },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Ties
// ---------------------------------------------------------------------------------------------

const TIE_TEN = { id: 10, name: 'Tie Ten', industry: 'Retail' };
const TIE_ELEVEN = { id: 11, name: 'Tie Eleven', industry: 'Banking', segment: 'Mid-Market' };
const TIE_THIRTEEN = { id: 13, name: 'Tie Thirteen', industry: 'Energy', country: 'AT' };
/** 12 customers of 1.00 each, inserted in descending id order. */
const FILLERS: Customer[] = Array.from({ length: 12 }, (_, k) => ({
  id: 31 - k,
  name: `Filler ${31 - k}`,
  industry: 'Logistics',
}));

/**
 * C(P) = 15 customers (N = ceil(1.5) = 2). Customers 10, 11 and 13 each have 120.00 over W12 and
 * revenue in all 12 months (10: 5.00 + 15.00 + 10 × 10.00, min 5.00; 11 and 13: 12 × 10.00);
 * each is alone in its industry, so three industries tie at 120.00. Inserted largest id first.
 */
async function seedTies(): Promise<void> {
  await addChannels();
  await addCustomersIn([P], [...FILLERS, TIE_THIRTEEN, TIE_ELEVEN, TIE_TEN]);
  await addTraffic(FILLERS.map((filler) => ({ customer: filler.id, date: '2026-06-20', revenue: '1.00' })));
  await addTraffic(monthly(13, W12, '10.00'));
  await addTraffic(monthly(11, W12, '10.00'));
  await addTraffic([
    { customer: 10, date: '2025-07-15', revenue: '5.00' },
    { customer: 10, date: '2025-08-15', revenue: '15.00' },
    ...monthly(10, W12.slice(2), '10.00'),
  ]);
}

describe('ties are broken by the smaller customer_id or industry name', () => {
  beforeAll(async () => {
    await reset();
    await seedTies();
    await materializeRollups(W12[0] ?? '', P);
    await materializeOk(['industry_exposure', 'top_customers', 'consistently_active_top_customers'], {
      from: P,
    });
  });

  it('top_customers: equal revenue ranks the smaller customer_id first', async () => {
    expect(await topCustomers()).toEqual([
      {
        revenue_rank: 1,
        customer_id: 10,
        customer_name: 'Tie Ten',
        industry: 'Retail',
        segment: 'SMB',
        country: 'DE',
        revenue_eur: '120.00',
      },
      {
        revenue_rank: 2,
        customer_id: 11,
        customer_name: 'Tie Eleven',
        industry: 'Banking',
        segment: 'Mid-Market',
        country: 'DE',
        revenue_eur: '120.00',
      },
      {
        revenue_rank: 3,
        customer_id: 13,
        customer_name: 'Tie Thirteen',
        industry: 'Energy',
        segment: 'SMB',
        country: 'AT',
        revenue_eur: '120.00',
      },
      ...Array.from({ length: 12 }, (_, k) => ({
        revenue_rank: 4 + k,
        customer_id: 20 + k,
        customer_name: `Filler ${20 + k}`,
        industry: 'Logistics',
        segment: 'SMB',
        country: 'DE',
        revenue_eur: '1.00',
      })),
    ]);
  });

  it('consistently_active_top_customers: a three-way tie cut at N = 2 keeps the two smallest ids', async () => {
    expect(await consistentlyActive()).toEqual([
      {
        customer_id: 10,
        customer_name: 'Tie Ten',
        revenue_eur: '120.00',
        revenue_rank: 1,
        min_month_revenue_eur: '5.00',
      },
      {
        customer_id: 11,
        customer_name: 'Tie Eleven',
        revenue_eur: '120.00',
        revenue_rank: 2,
        min_month_revenue_eur: '10.00',
      },
    ]);
  });

  it('industry_exposure: equal revenue ranks by industry name', async () => {
    // Total 3 × 120.00 + 12 × 1.00 = 372.00: 120 / 372 = 32.258 %, 12 / 372 = 3.226 %.
    expect(await industryExposure()).toEqual([
      {
        industry: 'Banking',
        revenue_eur: '120.00',
        customer_count: 1,
        active_customer_count: 1,
        revenue_share_pct: '32.26',
        revenue_rank: 1,
      },
      {
        industry: 'Energy',
        revenue_eur: '120.00',
        customer_count: 1,
        active_customer_count: 1,
        revenue_share_pct: '32.26',
        revenue_rank: 2,
      },
      {
        industry: 'Retail',
        revenue_eur: '120.00',
        customer_count: 1,
        active_customer_count: 1,
        revenue_share_pct: '32.26',
        revenue_rank: 3,
      },
      {
        industry: 'Logistics',
        revenue_eur: '12.00',
        customer_count: 12,
        active_customer_count: 12,
        revenue_share_pct: '3.23',
        revenue_rank: 4,
      },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Q1: industries without revenue
// ---------------------------------------------------------------------------------------------

describe('industry_exposure (Q1): industries without revenue in W12', () => {
  beforeEach(reset);

  it('an industry whose customers have no revenue in W12 has 0, 0 active, share 0.00 and ranks last', async () => {
    await addChannels();
    await addCustomersIn(
      [P],
      [
        { id: 1, industry: 'Media' },
        { id: 2, industry: 'Media' },
        { id: 3, industry: 'Agriculture' },
        { id: 4, industry: 'Agriculture' },
        { id: 5, industry: 'Telecom' },
      ],
    );
    await addTraffic([
      { customer: 1, date: '2026-06-10', revenue: '30.00' },
      // The last day of P-12: outside W12, although its rollup exists.
      { customer: 3, date: '2025-06-30', revenue: '500.00' },
      // The first day of W12.
      { customer: 5, date: '2025-07-01', revenue: '10.00' },
    ]);
    await materializeRollups('2025-06', P);
    await materializeOk(['industry_exposure'], { from: P });
    expect(await industryExposure()).toEqual([
      {
        industry: 'Media',
        revenue_eur: '30.00',
        customer_count: 2,
        active_customer_count: 1,
        revenue_share_pct: '75.00',
        revenue_rank: 1,
      },
      {
        industry: 'Telecom',
        revenue_eur: '10.00',
        customer_count: 1,
        active_customer_count: 1,
        revenue_share_pct: '25.00',
        revenue_rank: 2,
      },
      {
        industry: 'Agriculture',
        revenue_eur: '0.00',
        customer_count: 2,
        active_customer_count: 0,
        revenue_share_pct: '0.00',
        revenue_rank: 3,
      },
    ]);
  });

  const ALL_ZERO = [
    {
      industry: 'Agriculture',
      revenue_eur: '0.00',
      customer_count: 1,
      active_customer_count: 0,
      revenue_share_pct: '0.00',
      revenue_rank: 1,
    },
    {
      industry: 'Media',
      revenue_eur: '0.00',
      customer_count: 1,
      active_customer_count: 0,
      revenue_share_pct: '0.00',
      revenue_rank: 2,
    },
  ];

  it('a total of 0 (traffic worth 0.00 only) gives every share 0.00, ranked by name', async () => {
    await addChannels();
    await addCustomersIn(
      [P],
      [
        { id: 1, industry: 'Media' },
        { id: 2, industry: 'Agriculture' },
      ],
    );
    await addTraffic([{ customer: 1, date: '2026-06-10', revenue: '0.00', interactions: 3 }]);
    await materializeRollups(P);
    await materializeOk(['industry_exposure'], { from: P });
    expect(await industryExposure()).toEqual(ALL_ZERO);
  });

  it('a total of 0 (no traffic at all in W12) gives every share 0.00, ranked by name', async () => {
    await addCustomersIn(
      [P],
      [
        { id: 1, industry: 'Media' },
        { id: 2, industry: 'Agriculture' },
      ],
    );
    const run = await materialize(['industry_exposure'], { from: P });
    expect(run.node('industry_exposure', P).error ?? null).toBeNull();
    expect(run.node('industry_exposure', P).status).toBe('succeeded');
    expect(await industryExposure()).toEqual(ALL_ZERO);
  });
});

// ---------------------------------------------------------------------------------------------
// Q5: consistently active top customers
// ---------------------------------------------------------------------------------------------

/**
 * C(P) = customers 1 … size. rev12: 1 = 11 × 100.00 = 1100.00 (no traffic in 2025-09; its 2025-06
 * traffic is outside W12); 2 = 11 × (30.00 + 20.00) + (12.00 + 8.00) in 2026-01 = 570.00, smallest
 * monthly sum 20.00 (smallest row 8.00); 3 = 12 × 40.00 = 480.00; 4 = 10.00; the rest 0. Customer
 * 99 left the snapshot in 2026-05 and has 12 × 1000.00: it is not in C(P).
 */
async function seedConsistency(size: number): Promise<void> {
  const names: Record<number, string> = { 1: 'Gappy One', 2: 'Steady Two', 3: 'Steady Three' };
  const members = Array.from({ length: size }, (_, k) => ({ id: k + 1, name: names[k + 1] }));
  await addChannels();
  await addCustomersIn([P], members);
  await addCustomersIn(['2026-05'], [{ id: 99, name: 'Gone' }]);
  await addTraffic([
    ...monthly(
      1,
      W12.filter((month) => month !== '2025-09'),
      '100.00',
    ),
    { customer: 1, date: '2025-06-15', revenue: '100.00' },
    ...monthly(
      2,
      W12.filter((month) => month !== '2026-01'),
      '30.00',
      '10',
    ),
    ...monthly(
      2,
      W12.filter((month) => month !== '2026-01'),
      '20.00',
      '20',
    ),
    { customer: 2, date: '2026-01-10', revenue: '12.00' },
    { customer: 2, date: '2026-01-20', revenue: '8.00' },
    ...monthly(3, W12, '40.00'),
    { customer: 4, date: '2026-06-01', revenue: '10.00' },
    ...monthly(99, W12, '1000.00'),
  ]);
  await materializeRollups('2025-06', P);
  await materializeOk(['top_customers', 'consistently_active_top_customers'], { from: P });
}

describe('consistently_active_top_customers (Q5)', () => {
  beforeEach(reset);

  it('|C(P)| = 11 → N = 2: rank 1 is active in 11 months only and left out; rank 2 stays with its rank', async () => {
    await seedConsistency(11);
    expect(await consistentlyActive()).toEqual([
      {
        customer_id: 2,
        customer_name: 'Steady Two',
        revenue_eur: '570.00',
        revenue_rank: 2,
        min_month_revenue_eur: '20.00',
      },
    ]);
    // The ranking it is cut from: customer 99 (not in C(P)) takes no place in it.
    expect((await topCustomers()).map((row) => [row.customer_id, row.revenue_eur])).toEqual([
      [1, '1100.00'],
      [2, '570.00'],
      [3, '480.00'],
      [4, '10.00'],
    ]);
  });

  it('|C(P)| = 10 → N = ceil(1.0) = 1: only rank 1 is in the top 10 %, and it is not active every month', async () => {
    await seedConsistency(10);
    expect(await consistentlyActive()).toEqual([]);
  });

  it('|C(P)| = 21 → N = ceil(2.1) = 3: ranks 2 and 3 are both kept', async () => {
    await seedConsistency(21);
    expect(await consistentlyActive()).toEqual([
      {
        customer_id: 2,
        customer_name: 'Steady Two',
        revenue_eur: '570.00',
        revenue_rank: 2,
        min_month_revenue_eur: '20.00',
      },
      {
        customer_id: 3,
        customer_name: 'Steady Three',
        revenue_eur: '480.00',
        revenue_rank: 3,
        min_month_revenue_eur: '40.00',
      },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Q4: top customers
// ---------------------------------------------------------------------------------------------

describe('top_customers (Q4)', () => {
  beforeAll(async () => {
    await reset();
    await addChannels();
    // Customers 1 … 21 with rev12 = 100.00 + id (2025-07 and P); 1 also has 50.00 in P-12 (outside).
    const ranked = Array.from({ length: 21 }, (_, k) => ({ id: k + 1, name: `Top ${k + 1}` }));
    await addCustomersIn([P], ranked.slice(0, 20));
    // 21: the customers row and the snapshots before and after P all differ from snapshot P.
    await addCustomers([{ id: 21, name: 'Stale Name', segment: 'Enterprise', industry: 'Banking' }]);
    await addSnapshot('2026-05', [
      { id: 21, name: 'May Name', segment: 'Enterprise', industry: 'Banking', country: 'FR' },
    ]);
    await addSnapshot(P, [
      { id: 21, name: 'June Name', segment: 'Mid-Market', industry: 'Telecom', country: 'AT' },
    ]);
    await addSnapshot('2026-07', [
      { id: 21, name: 'July Name', segment: 'SMB', industry: 'Media', country: 'CH' },
    ]);
    // 30: no traffic; 31: traffic worth 0.00; 40: left the snapshot before P but has traffic in P.
    await addCustomersIn([P], [{ id: 30 }, { id: 31 }]);
    await addCustomersIn(['2026-05'], [{ id: 40 }]);
    await addTraffic([
      ...ranked.map((c) => ({ customer: c.id, date: '2025-07-05', revenue: '100.00' })),
      ...ranked.map((c) => ({ customer: c.id, date: '2026-06-05', revenue: `${c.id}.00` })),
      { customer: 1, date: '2025-06-30', revenue: '50.00' },
      { customer: 31, date: '2026-06-07', revenue: '0.00', interactions: 50 },
      { customer: 40, date: '2026-06-08', revenue: '999.00' },
    ]);
    await materializeRollups('2025-06', P);
    await materializeOk(['top_customers'], { from: P });
  });

  it('keeps the 20 highest of C(P), with the attributes of snapshot P', async () => {
    const rows = await topCustomers();
    expect(rows[0]).toEqual({
      revenue_rank: 1,
      customer_id: 21,
      customer_name: 'June Name',
      industry: 'Telecom',
      segment: 'Mid-Market',
      country: 'AT',
      revenue_eur: '121.00',
    });
    expect(rows.slice(1)).toEqual(
      Array.from({ length: 19 }, (_, k) => ({
        revenue_rank: 2 + k,
        customer_id: 20 - k,
        customer_name: `Top ${20 - k}`,
        industry: 'Retail',
        segment: 'SMB',
        country: 'DE',
        revenue_eur: `${120 - k}.00`,
      })),
    );
  });

  it('leaves out zero revenue (none, or 0.00 traffic), customers not in snapshot P, and rank 21', async () => {
    const ids = (await topCustomers()).map((row) => row.customer_id);
    expect(ids).toHaveLength(20);
    for (const left of [1, 30, 31, 40]) expect(ids).not.toContain(left);
  });
});

// ---------------------------------------------------------------------------------------------
// §7 customers_revenue_by_period
// ---------------------------------------------------------------------------------------------

describe('customers_revenue_by_period (§7)', () => {
  const SERVING = ['customer_month_revenue', 'customers_revenue_by_period'];

  beforeAll(async () => {
    await reset();
    await addChannels();
    await addCustomers([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }, { id: 5 }]);
    await addTraffic([
      // 1: Q2 2025 = 1.00, Q3 2025 = 20.00 → QoQ 1900.00 %; 2024-12 is last year.
      { customer: 1, date: '2024-12-15', revenue: '100.00' },
      { customer: 1, date: '2025-01-15', revenue: '4.00' },
      { customer: 1, date: '2025-05-15', revenue: '1.00' },
      { customer: 1, date: '2025-07-15', revenue: '5.00' },
      { customer: 1, date: '2025-09-15', revenue: '15.00' },
      { customer: 1, date: '2025-10-15', revenue: '7.00' },
      { customer: 1, date: '2025-11-01', revenue: '3.00' },
      { customer: 1, date: '2025-11-30', revenue: '2.00' },
      // 2: nothing in Q2 2025 → NULL QoQ.
      { customer: 2, date: '2025-08-15', revenue: '50.00' },
      // 3: only long ago.
      { customer: 3, date: '2024-06-15', revenue: '70.00' },
      // 4: Q2 8.00 → Q3 7.99: -0.125 % rounds half away from zero to -0.13.
      { customer: 4, date: '2025-04-15', revenue: '8.00' },
      { customer: 4, date: '2025-08-15', revenue: '7.99' },
      // 5: no traffic at all.
    ]);
  });

  it('is as of the last day of the latest month with traffic (2025-11), not of today', async () => {
    await materializeOk(SERVING, { from: '2024-06', to: '2025-11' });
    expect(await revenueByPeriod()).toEqual([
      {
        customer_id: 1,
        revenue_last_month: '7.00',
        revenue_last_quarter: '20.00',
        revenue_mtd: '5.00',
        revenue_ytd: '37.00',
        revenue_increase_pct_qoq: '1900.00',
        as_of_date: '2025-11-30',
      },
      {
        customer_id: 2,
        revenue_last_month: '0.00',
        revenue_last_quarter: '50.00',
        revenue_mtd: '0.00',
        revenue_ytd: '50.00',
        revenue_increase_pct_qoq: null,
        as_of_date: '2025-11-30',
      },
      {
        customer_id: 3,
        revenue_last_month: '0.00',
        revenue_last_quarter: '0.00',
        revenue_mtd: '0.00',
        revenue_ytd: '0.00',
        revenue_increase_pct_qoq: null,
        as_of_date: '2025-11-30',
      },
      {
        customer_id: 4,
        revenue_last_month: '0.00',
        revenue_last_quarter: '7.99',
        revenue_mtd: '0.00',
        revenue_ytd: '15.99',
        revenue_increase_pct_qoq: '-0.13',
        as_of_date: '2025-11-30',
      },
      {
        customer_id: 5,
        revenue_last_month: '0.00',
        revenue_last_quarter: '0.00',
        revenue_mtd: '0.00',
        revenue_ytd: '0.00',
        revenue_increase_pct_qoq: null,
        as_of_date: '2025-11-30',
      },
    ]);
  });

  it('moves with new traffic: L = 2026-01, so YTD restarts on 1 January and the quarters cross the year', async () => {
    await addTraffic([{ customer: 1, date: '2026-01-20', revenue: '6.00' }]);
    await materializeOk(SERVING, { from: '2025-12', to: '2026-01' });
    // Last quarter = Q4 2025, the one before = Q3 2025, last month = 2025-12 (no traffic).
    expect(await revenueByPeriod()).toEqual([
      {
        customer_id: 1,
        revenue_last_month: '0.00',
        revenue_last_quarter: '12.00',
        revenue_mtd: '6.00',
        revenue_ytd: '6.00',
        revenue_increase_pct_qoq: '-40.00',
        as_of_date: '2026-01-31',
      },
      {
        customer_id: 2,
        revenue_last_month: '0.00',
        revenue_last_quarter: '0.00',
        revenue_mtd: '0.00',
        revenue_ytd: '0.00',
        revenue_increase_pct_qoq: '-100.00',
        as_of_date: '2026-01-31',
      },
      {
        customer_id: 3,
        revenue_last_month: '0.00',
        revenue_last_quarter: '0.00',
        revenue_mtd: '0.00',
        revenue_ytd: '0.00',
        revenue_increase_pct_qoq: null,
        as_of_date: '2026-01-31',
      },
      {
        customer_id: 4,
        revenue_last_month: '0.00',
        revenue_last_quarter: '0.00',
        revenue_mtd: '0.00',
        revenue_ytd: '0.00',
        revenue_increase_pct_qoq: '-100.00',
        as_of_date: '2026-01-31',
      },
      {
        customer_id: 5,
        revenue_last_month: '0.00',
        revenue_last_quarter: '0.00',
        revenue_mtd: '0.00',
        revenue_ytd: '0.00',
        revenue_increase_pct_qoq: null,
        as_of_date: '2026-01-31',
      },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// §6 quartile categories
// ---------------------------------------------------------------------------------------------

describe('quartile categories (§6): Low ≤ Q1 < Mid ≤ Q3 < High, percentile_cont', () => {
  beforeEach(reset);

  it('customer_revenue_categories and industry_exposure_extended with values exactly on Q1 and Q3', async () => {
    await addChannels();
    // rev12 sorted: 0, 0, 5, 10, 12.50, 20, 30, 30, 45 (n = 9): Q1 = v[2] = 5.00, Q3 = v[6] = 30.00.
    await addCustomersIn(
      [P],
      [
        { id: 1, industry: 'Agri' },
        { id: 2, industry: 'Agri' },
        { id: 3, industry: 'Banking' },
        { id: 4, industry: 'Chemicals' },
        { id: 5, industry: 'Chemicals' },
        { id: 6, industry: 'Chemicals' },
        { id: 7, industry: 'Defense' },
        { id: 8, industry: 'Defense' },
        { id: 9, industry: 'Defense' },
      ],
    );
    await addTraffic([
      // 2's only traffic is in P-12: rev12 = 0.
      { customer: 2, date: '2025-06-15', revenue: '99.00' },
      { customer: 3, date: '2026-06-15', revenue: '5.00' },
      { customer: 4, date: '2026-06-15', revenue: '10.00' },
      { customer: 5, date: '2025-09-15', revenue: '12.50' },
      { customer: 6, date: '2026-06-15', revenue: '20.00' },
      { customer: 7, date: '2026-06-15', revenue: '30.00' },
      { customer: 8, date: '2025-07-15', revenue: '10.00' },
      { customer: 8, date: '2026-02-15', revenue: '20.00' },
      { customer: 9, date: '2026-06-15', revenue: '45.00' },
    ]);
    await materializeRollups('2025-06', P);
    await materializeOk(['industry_exposure', 'customer_revenue_categories', 'industry_exposure_extended'], {
      from: P,
    });
    expect(await revenueCategories()).toEqual([
      { customer_id: 1, revenue_eur: '0.00', revenue_category: 'Low' },
      { customer_id: 2, revenue_eur: '0.00', revenue_category: 'Low' },
      { customer_id: 3, revenue_eur: '5.00', revenue_category: 'Low' },
      { customer_id: 4, revenue_eur: '10.00', revenue_category: 'Mid' },
      { customer_id: 5, revenue_eur: '12.50', revenue_category: 'Mid' },
      { customer_id: 6, revenue_eur: '20.00', revenue_category: 'Mid' },
      { customer_id: 7, revenue_eur: '30.00', revenue_category: 'Mid' },
      { customer_id: 8, revenue_eur: '30.00', revenue_category: 'Mid' },
      { customer_id: 9, revenue_eur: '45.00', revenue_category: 'High' },
    ]);
    // Industries: revenue 0, 5, 42.50, 105 → Q1 = 0 + 0.75 × 5 = 3.75, Q3 = 42.5 + 0.25 × 62.5 = 58.125;
    // customer counts 1, 2, 3, 3 → Q1 = 1 + 0.75 × 1 = 1.75, Q3 = 3 + 0.25 × 0 = 3 (the 3s are Mid).
    expect(await industryExposureExtended()).toEqual([
      {
        industry: 'Agri',
        revenue_eur: '0.00',
        customer_count: 2,
        revenue_category: 'Low',
        customer_count_category: 'Mid',
      },
      {
        industry: 'Banking',
        revenue_eur: '5.00',
        customer_count: 1,
        revenue_category: 'Mid',
        customer_count_category: 'Low',
      },
      {
        industry: 'Chemicals',
        revenue_eur: '42.50',
        customer_count: 3,
        revenue_category: 'Mid',
        customer_count_category: 'Mid',
      },
      {
        industry: 'Defense',
        revenue_eur: '105.00',
        customer_count: 3,
        revenue_category: 'High',
        customer_count_category: 'Mid',
      },
    ]);
  });

  it('customer_revenue_categories with interpolated quartiles (n = 6)', async () => {
    await addChannels();
    await addCustomersIn(
      [P],
      Array.from({ length: 6 }, (_, k) => ({ id: k + 1 })),
    );
    // rev12 sorted: 0, 4, 8, 9, 10, 40. Q1 at position 1.25: 4 + 0.25 × 4 = 5.00;
    // Q3 at position 3.75: 9 + 0.75 × 1 = 9.75 (percentile_disc would give 10 and make 10 Mid).
    await addTraffic([
      { customer: 2, date: '2026-06-15', revenue: '4.00' },
      { customer: 3, date: '2026-06-15', revenue: '8.00' },
      { customer: 4, date: '2026-06-15', revenue: '9.00' },
      { customer: 5, date: '2026-06-15', revenue: '10.00' },
      { customer: 6, date: '2026-06-15', revenue: '40.00' },
    ]);
    await materializeRollups(P);
    await materializeOk(['customer_revenue_categories'], { from: P });
    expect(await revenueCategories()).toEqual([
      { customer_id: 1, revenue_eur: '0.00', revenue_category: 'Low' },
      { customer_id: 2, revenue_eur: '4.00', revenue_category: 'Low' },
      { customer_id: 3, revenue_eur: '8.00', revenue_category: 'Mid' },
      { customer_id: 4, revenue_eur: '9.00', revenue_category: 'Mid' },
      { customer_id: 5, revenue_eur: '10.00', revenue_category: 'High' },
      { customer_id: 6, revenue_eur: '40.00', revenue_category: 'High' },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// §6 descriptive statistics
// ---------------------------------------------------------------------------------------------

const EMPTY: Statistics = {
  n: 0,
  min: null,
  max: null,
  mean: null,
  median: null,
  stddev: null,
  q1: null,
  q3: null,
};

describe('descriptive_statistics (§6)', () => {
  beforeEach(reset);

  it('n, min, max, mean, median, sample stddev and quartiles of every column, W12 rows only', async () => {
    await addChannels(['0.0100', '0.0500', '0.2000']);
    await addCustomersIn(
      [P],
      [
        { id: 1, industry: 'Alpha' },
        { id: 2, industry: 'Alpha' },
        { id: 3, industry: 'Beta' },
      ],
    );
    await addTraffic([
      { customer: 1, date: '2025-07-01', channel: 1, interactions: 3, revenue: '1.50' },
      { customer: 1, date: '2026-06-30', channel: 1, interactions: 7, revenue: '2.50' },
      { customer: 2, date: '2026-06-01', channel: 2, interactions: 7, revenue: '2.50' },
      { customer: 2, date: '2025-12-31', channel: 3, interactions: 10, revenue: '10.00' },
      // The days just outside W12, their rollups materialized all the same.
      { customer: 1, date: '2025-06-30', channel: 1, interactions: 1000, revenue: '999.99' },
      { customer: 2, date: '2026-07-01', channel: 1, interactions: 500, revenue: '500.00' },
    ]);
    await materializeRollups('2025-06', '2026-07');
    await materializeOk(['industry_exposure', 'customer_revenue_categories', 'descriptive_statistics'], {
      from: P,
    });
    expectStatistics(await descriptiveStatistics(), {
      // 3, 7, 7, 10: Σx = 27, Σx² = 207, SS = 207 − 27²/4 = 24.75.
      'traffic.interactions_count': {
        n: 4,
        min: 3,
        max: 10,
        mean: 6.75,
        median: 7,
        stddev: Math.sqrt(24.75 / 3),
        q1: 6,
        q3: 7.75,
      },
      // 1.5, 2.5, 2.5, 10: Σx = 16.5, Σx² = 114.75, SS = 114.75 − 16.5²/4 = 46.6875.
      'traffic.revenue_eur': {
        n: 4,
        min: 1.5,
        max: 10,
        mean: 4.125,
        median: 2.5,
        stddev: Math.sqrt(46.6875 / 3),
        q1: 2.25,
        q3: 4.375,
      },
      // 0.01, 0.05, 0.2: SS = 0.0426 − 0.26²/3 = 0.0602/3.
      'channels.unit_price_eur': {
        n: 3,
        min: 0.01,
        max: 0.2,
        mean: 0.26 / 3,
        median: 0.05,
        stddev: Math.sqrt(0.0602 / 3 / 2),
        q1: 0.03,
        q3: 0.125,
      },
      // Alpha 16.50 (4.00 + 12.50), Beta 0.00.
      'industry_exposure.revenue_eur': {
        n: 2,
        min: 0,
        max: 16.5,
        mean: 8.25,
        median: 8.25,
        stddev: Math.sqrt(2 * 8.25 ** 2),
        q1: 4.125,
        q3: 12.375,
      },
      'industry_exposure.customer_count': {
        n: 2,
        min: 1,
        max: 2,
        mean: 1.5,
        median: 1.5,
        stddev: Math.sqrt(0.5),
        q1: 1.25,
        q3: 1.75,
      },
      // 0, 4, 12.5: SS = 5.5² + 1.5² + 7² = 81.5.
      'customer_revenue_categories.revenue_eur': {
        n: 3,
        min: 0,
        max: 12.5,
        mean: 5.5,
        median: 4,
        stddev: Math.sqrt(81.5 / 2),
        q1: 2,
        q3: 8.25,
      },
    });
  });

  it('stddev is NULL for n = 1, and everything but n is NULL for n = 0', async () => {
    await addChannels(['0.0100']);
    await addCustomers([{ id: 1 }]);
    await addTraffic([{ customer: 1, date: '2026-03-10', interactions: 5, revenue: '2.25' }]);
    await materializeRollups('2026-03');
    // industry_exposure and customer_revenue_categories of P were never materialized: no rows.
    await materializeOk(['descriptive_statistics'], { from: P });
    const one = (value: number): Statistics => ({
      n: 1,
      min: value,
      max: value,
      mean: value,
      median: value,
      stddev: null,
      q1: value,
      q3: value,
    });
    expectStatistics(await descriptiveStatistics(), {
      'traffic.interactions_count': one(5),
      'traffic.revenue_eur': one(2.25),
      'channels.unit_price_eur': one(0.01),
      'industry_exposure.revenue_eur': EMPTY,
      'industry_exposure.customer_count': EMPTY,
      'customer_revenue_categories.revenue_eur': EMPTY,
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Rollups must be current for every month of W12 with traffic
// ---------------------------------------------------------------------------------------------

describe('the rollup check: a W12 month with traffic but no rollup fails the analytics asset', () => {
  beforeAll(async () => {
    await reset();
    await addChannels();
    await addCustomersIn([P], [{ id: 1, industry: 'Media' }]);
    await addTraffic([
      // Outside W12: its missing rollup does not matter.
      { customer: 1, date: '2025-06-15', revenue: '5.00' },
      { customer: 1, date: '2025-09-15', revenue: '10.00' },
      { customer: 1, date: '2026-06-15', revenue: '20.00' },
    ]);
    await materializeOk(['customer_month_revenue'], { from: P });
  });

  it('names the month whose rollup is missing and writes nothing', async () => {
    const run = await materialize(['industry_exposure', 'top_customers'], { from: P });
    expect(run.result).toMatchObject({ status: 'failed', succeeded: 0, failed: 2 });
    for (const key of ['industry_exposure', 'top_customers']) {
      const node = run.node(key, P);
      expect(node.status).toBe('failed');
      expect(node.error).toBe(
        'check customer_month_revenue_current (customer_month_revenue is missing or older than traffic ' +
          `for 2025-09: materialize those months of customer_month_revenue (e.g. with +${key})) failed; ` +
          'the write was rolled back',
      );
      expect(
        run.detail.checks
          .filter((check) => check.assetKey === key && check.checkName === 'customer_month_revenue_current')
          .map((check) => check.passed),
      ).toEqual([false]);
    }
    expect(await industryExposure()).toEqual([]);
    expect(await topCustomers()).toEqual([]);
  });

  it('descriptive_statistics checks traffic_value_counts the same way', async () => {
    const run = await materialize(['descriptive_statistics'], { from: P });
    expect(run.node('descriptive_statistics', P).error).toContain(
      'traffic_value_counts is missing or older than traffic for 2025-09, 2026-06:',
    );
    expect(await descriptiveStatistics()).toEqual({});
  });

  it('passes once the month is materialized', async () => {
    await materializeOk(['customer_month_revenue'], { from: '2025-09' });
    await materializeOk(['industry_exposure'], { from: P });
    expect(await industryExposure()).toEqual([
      {
        industry: 'Media',
        revenue_eur: '30.00',
        customer_count: 1,
        active_customer_count: 1,
        revenue_share_pct: '100.00',
        revenue_rank: 1,
      },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Re-running a partition
// ---------------------------------------------------------------------------------------------

describe('re-running a partition', () => {
  beforeAll(async () => {
    await reset();
    await seedTies();
    // The snapshot before P: customer 10 was Enterprise then, so P has one segment change.
    await addSnapshot('2026-05', [
      ...FILLERS,
      TIE_THIRTEEN,
      TIE_ELEVEN,
      { ...TIE_TEN, segment: 'Enterprise' },
    ]);
    await materializeRollups('2025-06', P);
    await materializeOk([...ANALYTICS, 'customers_revenue_by_period'], { from: '2026-05', to: P });
  });

  async function snapshot() {
    const tables: Record<string, string> = {};
    for (const [table, key] of Object.entries(ANALYTICS_KEYS)) tables[table] = await checksum(table, key);
    const [serving] = await database.sql<{ md5: string; updated: number }[]>`
      select md5(string_agg((customer_id, revenue_last_month, revenue_last_quarter, revenue_mtd, revenue_ytd,
          revenue_increase_pct_qoq, as_of_date)::text, '|' order by customer_id)) as md5,
        extract(epoch from max(last_updated))::float8 as updated
      from customers_revenue_by_period`;
    return { tables, serving: serving?.md5, updated: serving?.updated };
  }

  it('leaves every analytics table byte-identical and customers_revenue_by_period identical but for last_updated', async () => {
    const counts = await database.sql<{ table: string; n: number }[]>`
      select 'industry_exposure' as table, count(*)::int as n from industry_exposure where period = ${PERIOD}
      union all select 'segment_distribution', count(*)::int from segment_distribution where period = ${PERIOD}
      union all select 'segment_changes', count(*)::int from segment_changes where period = ${PERIOD}
      union all select 'top_customers', count(*)::int from top_customers where period = ${PERIOD}
      union all select 'consistently_active_top_customers', count(*)::int
        from consistently_active_top_customers where period = ${PERIOD}
      union all select 'customer_revenue_categories', count(*)::int
        from customer_revenue_categories where period = ${PERIOD}
      union all select 'industry_exposure_extended', count(*)::int
        from industry_exposure_extended where period = ${PERIOD}
      union all select 'descriptive_statistics', count(*)::int from descriptive_statistics where period = ${PERIOD}
      union all select 'customers_revenue_by_period', count(*)::int from customers_revenue_by_period`;
    // Not trivially equal: every table holds rows of P.
    expect(Object.fromEntries(counts.map((row) => [row.table, row.n]))).toEqual({
      industry_exposure: 4,
      segment_distribution: 2,
      segment_changes: 1,
      top_customers: 15,
      consistently_active_top_customers: 2,
      customer_revenue_categories: 15,
      industry_exposure_extended: 4,
      descriptive_statistics: 6,
      customers_revenue_by_period: 15,
    });

    const before = await snapshot();
    const rerun = await materializeOk([...ROLLUPS, ...ANALYTICS, 'customers_revenue_by_period'], { from: P });
    expect(rerun.result).toMatchObject({ status: 'succeeded', succeeded: 11, failed: 0 });
    const after = await snapshot();

    expect(after.tables).toEqual(before.tables);
    expect(after.serving).toBe(before.serving);
    expect(after.updated).toBeGreaterThan(before.updated ?? Number.POSITIVE_INFINITY);
  });
});
