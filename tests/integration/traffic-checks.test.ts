import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineConfig } from '../../assets/config.ts';
import { reconciles, traffic } from '../../assets/ingest/traffic.ts';
import { dependencyWindow, type PartitionedContext } from '../../engine/asset.ts';
import { drizzleInTransaction } from '../../engine/database.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createTrafficMonths } from '../support/traffic-partitions.ts';

// The write–audit check on its own: it must fail when the month in the table is not the file.
let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
  await database.sql`insert into channels values (1, 'SMS', 'SMS', 0.05)`;
  await database.sql`insert into customers values (7, 700, 'Seven', 'SMB', 'Retail', 'Spain', '2024-01-01')`;
  await createTrafficMonths(database.sql, ['2026-10-01']);
});
afterAll(() => database.drop());

async function reconcile(tableRows: [string, number, string][]) {
  return database.sql
    .begin(async (tx) => {
      for (const [date, interactions, revenue] of tableRows) {
        await tx`insert into traffic (send_date, account_id, customer_id, channel_id, interactions_count, revenue_eur)
          values (${date}, 700, 7, 1, ${interactions}, ${revenue})`;
      }
      const ctx = {
        runId: '00000000-0000-0000-0000-000000000000',
        assetKey: 'traffic',
        partition: '2026-10',
        period: '2026-10-01',
        asOf: '2026-10-31',
        sql: tx,
        db: drizzleInTransaction(tx, database.sql),
        log: pino({ level: 'silent' }),
        signal: new AbortController().signal,
        config: { landingDir: '', exportDir: '', allowBadRows: 0 },
        window: (dependency: string) => dependencyWindow(traffic, '2026-10', dependency),
        recordSource: () => {},
      } satisfies PartitionedContext<PipelineConfig>;
      // The file (as the load measured it): 2 distinct rows, 1.50 EUR.
      const metadata = { rowCount: tableRows.length, fileRows: 2, fileRevenueEur: '1.50' };
      const outcome = await reconciles.run({ ...ctx, metadata });
      throw Object.assign(new Error('rollback'), { outcome });
    })
    .catch((error: { outcome?: unknown }) => error.outcome);
}

describe('reconciles_with_file', () => {
  it('passes when the month equals the file', async () => {
    expect(
      await reconcile([
        ['2026-10-01', 10, '0.50'],
        ['2026-10-02', 20, '1.00'],
      ]),
    ).toMatchObject({ passed: true });
  });

  it('fails on a missing row, an extra row or a changed amount', async () => {
    expect(await reconcile([['2026-10-01', 10, '0.50']])).toMatchObject({
      passed: false,
      message: 'file 2 rows / 1.50 EUR, table 1 rows / 0.50 EUR',
    });
    expect(
      await reconcile([
        ['2026-10-01', 10, '0.50'],
        ['2026-10-02', 20, '1.00'],
        ['2026-10-03', 1, '0.05'],
      ]),
    ).toMatchObject({ passed: false });
    expect(
      await reconcile([
        ['2026-10-01', 10, '0.50'],
        ['2026-10-02', 20, '1.01'],
      ]),
    ).toMatchObject({ passed: false });
  });
});
