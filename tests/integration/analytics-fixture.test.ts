import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineConfig } from '../../assets/config.ts';
import { assets } from '../../assets/index.ts';
import { AssetGraph } from '../../engine/graph.ts';
import { selectAssets } from '../../engine/selection.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { ANSWER_TABLES, expectAnswers, expectedAnswers } from '../support/fixture-answers.ts';
import { FIXTURE_LANDING } from '../support/landing-copy.ts';
import { runInProcess } from '../support/run-plan.ts';

/**
 * Every analytics table, every row, every column, against the fixture's expected answers
 * (tests/fixtures/small): money and percentages to the cent (as text), counts exactly, statistics
 * to 1e-9 relative.
 */

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

/** md5 of each analytics table's rows for the period (last_updated aside). */
async function fingerprints(database: TestDatabase, period: string) {
  const result: Record<string, string> = {};
  for (const table of ANSWER_TABLES) {
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
    await expectAnswers(database, '2026-10-01', expectedAnswers('expected-2026-10.json'));
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
    await expectAnswers(database, '2026-09-01', expectedAnswers('expected-2026-09-upto.json'));
  });
});
