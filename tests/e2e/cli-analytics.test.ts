import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { FIXTURE_LANDING } from '../support/landing-copy.ts';
import { serverUrl, withDatabase } from '../support/urls.ts';

// The real CLI over the fixture: every group but market, every partition, then the summary.
let database: TestDatabase;
let result: CliResult;

beforeAll(async () => {
  database = await createTestDatabase();
  result = await runCli(
    ['materialize', '* -group:market', '--from', '2025-09', '--to', '2026-10', '--in-process'],
    {
      env: {
        DATABASE_URL: withDatabase(serverUrl(), database.name),
        LANDING_DIR: FIXTURE_LANDING,
        LOG_LEVEL: undefined,
      },
      timeoutMs: 120_000,
    },
  );
}, 130_000);
afterAll(() => database?.drop());

describe("pipeline materialize '* -group:market' --from 2025-09 --to 2026-10 --in-process", () => {
  it('succeeds with every node of every group', () => {
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // 14 months × 12 partitioned assets + channels, customers and customers_revenue_by_period.
    expect(result.stdout).toMatch(/^run \S+ succeeded: 171 succeeded, 0 failed in /m);
  });

  it('prints the answers of the last partition for a person to read', () => {
    const summary = result.stdout.slice(result.stdout.indexOf('2026-10 — trailing 12 months:'));
    expect(summary.trimEnd().split('\n')).toEqual([
      '2026-10 — trailing 12 months:',
      '  top industry: Manufacturing (219,447.34 EUR, 20.08 % of revenue)',
      '  segment mix: SMB 33.33 %, Startup 30.00 %, Mid-Market 26.67 %, Enterprise 10.00 %',
      '  top customers:',
      '    1. Customer 14  214,505.70 EUR',
      '    2. Customer 22  95,030.57 EUR',
      '    3. Customer 29  87,685.02 EUR',
      '    4. Customer 18  83,664.16 EUR',
      '    5. Customer 6  83,029.58 EUR',
    ]);
  });

  it('writes every analytics table for every partition', async () => {
    const tables = [
      'industry_exposure',
      'segment_distribution',
      'top_customers',
      'customer_revenue_categories',
      'industry_exposure_extended',
      'descriptive_statistics',
      'customer_month_revenue',
    ];
    for (const table of tables) {
      const column = table === 'customer_month_revenue' ? 'month' : 'period';
      const [row] = await database.sql.unsafe<{ periods: number }[]>(
        `select count(distinct ${column})::int as periods from ${table}`,
      );
      expect(row?.periods, table).toBe(14);
    }
    const [serving] = await database.sql<{ rows: number; asOf: string }[]>`
      select count(*)::int as rows, max(as_of_date)::text as "asOf" from customers_revenue_by_period`;
    expect(serving).toEqual({ rows: 30, asOf: '2026-10-31' });
  });
});
