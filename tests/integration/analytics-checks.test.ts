import { pino } from 'pino';
import type { TransactionSql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { industryExposure, segmentDistribution, topCustomers } from '../../assets/analytics/index.ts';
import type { PipelineConfig } from '../../assets/config.ts';
import { assets } from '../../assets/index.ts';
import {
  type AssetDefinition,
  type CheckOutcome,
  dependencyWindow,
  type PartitionedContext,
} from '../../engine/asset.ts';
import { drizzleInTransaction } from '../../engine/database.ts';
import { AssetGraph } from '../../engine/graph.ts';
import { selectAssets } from '../../engine/selection.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { FIXTURE_LANDING } from '../support/landing-copy.ts';
import { runInProcess } from '../support/run-plan.ts';

// Each error check of the analytics passes on the fixture and fails once its table is tampered
// with (inside a transaction that is rolled back, so the tests stay independent).
let database: TestDatabase;
const graph = new AssetGraph<PipelineConfig>(assets);

beforeAll(async () => {
  database = await createTestDatabase();
  const run = await runInProcess({
    database,
    graph,
    selection: selectAssets(graph, '* -group:market'),
    partitions: { from: '2025-09', to: '2026-10' },
    config: { landingDir: FIXTURE_LANDING, exportDir: '/tmp', allowBadRows: 0 },
  });
  expect(run.result.status).toBe('succeeded');
});
afterAll(() => database?.drop());

/** Runs one check of an asset for 2026-10 after `tamper`, then rolls everything back. */
async function check(
  asset: AssetDefinition<PipelineConfig>,
  name: string,
  tamper: (tx: TransactionSql) => Promise<unknown> = async () => {},
): Promise<CheckOutcome | undefined> {
  const found = asset.checks.find((c) => c.name === name);
  if (!found) throw new Error(`${asset.key} has no check ${name}`);
  return database.sql
    .begin(async (tx) => {
      await tamper(tx);
      const ctx = {
        runId: '00000000-0000-0000-0000-000000000000',
        assetKey: asset.key,
        partition: '2026-10',
        period: '2026-10-01',
        asOf: '2026-10-31',
        sql: tx,
        db: drizzleInTransaction(tx, database.sql),
        log: pino({ level: 'silent' }),
        signal: new AbortController().signal,
        config: { landingDir: FIXTURE_LANDING, exportDir: '/tmp', allowBadRows: 0 },
        window: (dependency: string) => dependencyWindow(asset, '2026-10', dependency),
        recordSource: () => {},
      } satisfies PartitionedContext<PipelineConfig>;
      const outcome = await found.run({ ...ctx, metadata: { rowCount: 0 } });
      throw Object.assign(new Error('rollback'), { outcome });
    })
    .catch((error: { outcome?: CheckOutcome }) => error.outcome);
}

describe('analytics checks', () => {
  it('segment_distribution: percentages must sum to 100 ± 0.05', async () => {
    expect(await check(segmentDistribution, 'percentages_sum_to_100')).toMatchObject({ passed: true });
    const off = await check(
      segmentDistribution,
      'percentages_sum_to_100',
      (tx) =>
        tx`update segment_distribution set customer_pct = customer_pct + 0.06 where period = '2026-10-01' and segment = 'SMB'`,
    );
    expect(off).toMatchObject({ passed: false, message: 'percentages sum to 100.06' });
  });

  it('top_customers: at most 20 rows, ranks 1 … n in order of revenue', async () => {
    expect(await check(topCustomers, 'ranks_in_order')).toMatchObject({
      passed: true,
      metadata: { rows: 20 },
    });
    const gap = await check(
      topCustomers,
      'ranks_in_order',
      (tx) => tx`delete from top_customers where period = '2026-10-01' and revenue_rank = 3`,
    );
    expect(gap).toMatchObject({ passed: false, message: '19 rows, 17 out of order' });
    const swapped = await check(
      topCustomers,
      'ranks_in_order',
      (tx) => tx`update top_customers set revenue_eur = 1 where period = '2026-10-01' and revenue_rank = 1`,
    );
    expect(swapped).toMatchObject({ passed: false, message: '20 rows, 1 out of order' });
  });

  it('industry_exposure: industry revenue adds up to the rollup total of the window', async () => {
    expect(await check(industryExposure, 'revenue_matches_rollup')).toMatchObject({
      passed: true,
      metadata: { revenueEur: 1092627.51 },
    });
    const off = await check(
      industryExposure,
      'revenue_matches_rollup',
      (tx) =>
        tx`update industry_exposure set revenue_eur = revenue_eur + 0.01 where period = '2026-10-01' and revenue_rank = 1`,
    );
    expect(off).toMatchObject({ passed: false, message: 'industries 1092627.52 EUR, rollup 1092627.51 EUR' });
  });

  it('the rollup must be current: reloading a month of traffic after it was rolled up fails the answer', async () => {
    expect(await check(industryExposure, 'customer_month_revenue_current')).toMatchObject({ passed: true });
    const stale = await check(
      industryExposure,
      'customer_month_revenue_current',
      (tx) =>
        tx`insert into materializations (run_id, asset_key, partition_key, materialized_at, duration_ms, metadata)
         select run_id, 'traffic', '2026-03', now() + interval '1 hour', 1, '{}'::jsonb
         from materializations limit 1`,
    );
    expect(stale).toMatchObject({ passed: false });
    expect(stale?.message).toBe(
      'customer_month_revenue is missing or older than traffic for 2026-03: materialize those months of customer_month_revenue (e.g. with +industry_exposure)',
    );
  });

  it('the rollup must be current by data version: an unchanged file reloaded later passes, a changed one fails', async () => {
    // A later load of traffic[2026-03] with the data version it had (the same bytes) or another one.
    const reload = (version: string | null) => (tx: TransactionSql) =>
      tx`insert into materializations (run_id, asset_key, partition_key, materialized_at, duration_ms, metadata, data_version)
         select run_id, 'traffic', '2026-03', now() + interval '1 hour', 1, '{}'::jsonb, coalesce(${version}, data_version)
         from materializations where asset_key = 'traffic' and partition_key = '2026-03'
         order by materialized_at desc limit 1`;
    const [loaded] = await database.sql<{ data_version: string | null }[]>`
      select data_version from materializations where asset_key = 'traffic' and partition_key = '2026-03'`;
    expect(loaded?.data_version).toMatch(/^[0-9a-f]{64}$/);
    expect(await check(industryExposure, 'customer_month_revenue_current', reload(null))).toMatchObject({
      passed: true,
    });
    expect(
      await check(industryExposure, 'customer_month_revenue_current', reload('f'.repeat(64))),
    ).toMatchObject({ passed: false, metadata: { monthsBehind: 1 } });
  });

  it('window_has_traffic warns with the months of the window that have no traffic', async () => {
    expect(await check(industryExposure, 'window_has_traffic')).toMatchObject({ passed: true });
    const gap = await check(industryExposure, 'window_has_traffic', async (tx) => {
      await tx`delete from traffic where send_date >= '2026-02-01' and send_date < '2026-04-01'`;
    });
    expect(gap).toMatchObject({ passed: false, message: 'no traffic in 2026-02, 2026-03' });
  });
});
