import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineConfig } from '../../assets/config.ts';
import { assets } from '../../assets/index.ts';
import { AssetGraph } from '../../engine/graph.ts';
import { selectAssets } from '../../engine/selection.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { FIXTURE_LANDING } from '../support/landing-copy.ts';
import { runInProcess } from '../support/run-plan.ts';

/**
 * Every analytics table, every row, every column, against the fixture's expected answers
 * (tests/fixtures/small): money and percentages to the cent (as text), counts exactly, statistics
 * to 1e-9 relative.
 */

type Row = Record<string, string | number | null>;
type Expected = Record<string, Row[]>;

const expected = (name: string): Expected =>
  JSON.parse(readFileSync(fileURLToPath(new URL(`../fixtures/small/${name}`, import.meta.url)), 'utf8'));

/** Each table's key, to sort both sides the same way. */
const KEYS: Record<string, string[]> = {
  industry_exposure: ['industry'],
  segment_distribution: ['segment'],
  segment_changes: ['customer_id', 'changed_month'],
  top_customers: ['revenue_rank'],
  consistently_active_top_customers: ['customer_id'],
  customer_revenue_categories: ['customer_id'],
  industry_exposure_extended: ['industry'],
  descriptive_statistics: ['table_name', 'column_name'],
  customers_revenue_by_period: ['customer_id'],
};

const ANALYTICS = Object.keys(KEYS);
const graph = new AssetGraph<PipelineConfig>(assets);
const config = { landingDir: FIXTURE_LANDING, exportDir: '/tmp', allowBadRows: 0 };

async function materializeAll(database: TestDatabase, to: string) {
  const run = await runInProcess({
    database,
    graph,
    selection: selectAssets(graph, '* -group:market'),
    partitions: { from: '2025-09', to },
    config,
  });
  expect(run.result.status).toBe('succeeded');
  return run;
}

/** The table's rows for the period (all of it when unpartitioned), with the expected columns as text or numbers. */
async function actualRows(database: TestDatabase, table: string, period: string, like: Row): Promise<Row[]> {
  // Money, percentages and dates are compared as text (exact to the cent); the rest as numbers.
  const columns = Object.entries(like)
    .map(([column, value]) =>
      typeof value === 'string' ? `"${column}"::text as "${column}"` : `"${column}"`,
    )
    .join(', ');
  const where = table === 'customers_revenue_by_period' ? '' : `where period = '${period}'`;
  const rows = await database.sql.unsafe<Row[]>(`select ${columns} from ${table} ${where}`);
  // postgres.js reads bigint (n) as a string: a count, compared as a number.
  return rows.map((row) =>
    Object.fromEntries(
      Object.entries(row).map(([column, value]) => [
        column,
        typeof like[column] === 'number' && typeof value === 'string' ? Number(value) : value,
      ]),
    ),
  );
}

const sortKey = (table: string) => (row: Row) =>
  (KEYS[table] ?? []).map((column) => String(row[column]).padStart(12, ' ')).join('|');

function compareTable(table: string, actual: Row[], wanted: Row[]) {
  const byKey = sortKey(table);
  const sorted = (rows: Row[]) => [...rows].sort((a, b) => byKey(a).localeCompare(byKey(b)));
  const got = sorted(actual);
  const want = sorted(wanted);
  expect(got.map(byKey), `${table}: keys`).toEqual(want.map(byKey));
  want.forEach((row, i) => {
    for (const [column, value] of Object.entries(row)) {
      const actualValue = got[i]?.[column];
      const where = `${table} ${byKey(row).trim()} ${column}`;
      if (table === 'descriptive_statistics' && typeof value === 'number') {
        expect(typeof actualValue, where).toBe('number');
        const difference = Math.abs((actualValue as number) - value);
        expect(difference, where).toBeLessThanOrEqual(1e-9 * Math.max(Math.abs(value), Number.MIN_VALUE));
      } else expect(actualValue, where).toEqual(value);
    }
  });
}

async function expectAnswers(database: TestDatabase, period: string, answers: Expected) {
  expect(Object.keys(answers).sort()).toEqual([...ANALYTICS].sort());
  for (const table of ANALYTICS) {
    const wanted = answers[table] ?? [];
    expect(wanted.length, `${table}: the fixture has rows`).toBeGreaterThan(0);
    compareTable(table, await actualRows(database, table, period, wanted[0] as Row), wanted);
  }
}

/** md5 of each analytics table's rows for the period (last_updated aside). */
async function fingerprints(database: TestDatabase, period: string) {
  const result: Record<string, string> = {};
  for (const table of ANALYTICS) {
    const [row] =
      table === 'customers_revenue_by_period'
        ? await database.sql<{ md5: string }[]>`
            select md5(string_agg((to_jsonb(t) - 'last_updated')::text, '|' order by customer_id)) as md5
            from customers_revenue_by_period t`
        : await database.sql.unsafe<{ md5: string }[]>(
            `select md5(string_agg(t::text, '|' order by t::text)) as md5 from ${table} t where period = '${period}'`,
          );
    result[table] = row?.md5 ?? '';
  }
  return result;
}

describe('analytics over the fixture, as of 2026-10 (expected-2026-10.json)', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
    await materializeAll(database, '2026-10');
  });
  afterAll(() => database?.drop());

  it('answers every question of partition 2026-10 exactly', async () => {
    await expectAnswers(database, '2026-10-01', expected('expected-2026-10.json'));
  });

  it('writes every analytics table for every partition of the run', async () => {
    const counts = await database.sql<{ period: string; tables: number }[]>`
      select period::text, count(distinct source)::int as tables from (
        select period, 'industry_exposure' as source from industry_exposure
        union all select period, 'segment_distribution' from segment_distribution
        union all select period, 'top_customers' from top_customers
        union all select period, 'customer_revenue_categories' from customer_revenue_categories
        union all select period, 'industry_exposure_extended' from industry_exposure_extended
        union all select period, 'descriptive_statistics' from descriptive_statistics) t
      group by period order by period`;
    // 2025-09 … 2026-10: 14 partitions, each with all six tables that always have rows.
    expect(counts).toHaveLength(14);
    expect(counts.every((row) => row.tables === 6)).toBe(true);
    expect(counts[0]?.period).toBe('2025-09-01');
  });

  it('re-running partition 2026-10 leaves every table byte-identical (apart from last_updated)', async () => {
    const before = await fingerprints(database, '2026-10-01');
    const rerun = await runInProcess({
      database,
      graph,
      selection: selectAssets(graph, '* -group:market'),
      partitions: { from: '2026-10', to: '2026-10' },
      config,
    });
    expect(rerun.result.status).toBe('succeeded');
    expect(await fingerprints(database, '2026-10-01')).toEqual(before);
  });
});

describe('analytics over the fixture loaded up to 2026-09 (expected-2026-09-upto.json)', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
    await materializeAll(database, '2026-09');
  });
  afterAll(() => database?.drop());

  it('answers every question of partition 2026-09, with revenue by period as of 2026-09-30', async () => {
    await expectAnswers(database, '2026-09-01', expected('expected-2026-09-upto.json'));
  });
});
