import { afterAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../engine/database.ts';
import { runCli } from '../support/cli.ts';
import { dropDatabase, uniqueDatabaseName } from '../support/database.ts';
import { createTrafficMonths } from '../support/traffic-partitions.ts';
import { serverUrl, withDatabase } from '../support/urls.ts';

const CONTRACT_TABLES = [
  'channels',
  'customers',
  'traffic',
  'customers_revenue_by_period',
  'customer_snapshots',
  'industry_exposure',
  'segment_distribution',
  'segment_changes',
  'top_customers',
  'consistently_active_top_customers',
  'customer_revenue_categories',
  'industry_exposure_extended',
  'descriptive_statistics',
  'stock_prices',
  'stock_comparison',
  'stock_correlations',
  'rejected_rows',
  'runs',
  'run_nodes',
  'materializations',
  'node_attempts',
  'check_results',
  'schedulers',
  'ticks',
  'node_logs',
];

/** Everything a migration could change, as one comparable value. */
async function catalogFingerprint(database: Database): Promise<string> {
  const columns = await database.sql`
    select table_name, column_name, data_type, numeric_precision, numeric_scale, is_nullable, column_default
    from information_schema.columns where table_schema = 'public' order by table_name, column_name`;
  const constraints = await database.sql`
    select conrelid::regclass::text as table_name, conname, pg_get_constraintdef(oid) as definition
    from pg_constraint where connamespace = 'public'::regnamespace order by 1, 2`;
  const indexes = await database.sql`
    select tablename, indexname, indexdef from pg_indexes where schemaname = 'public' order by 1, 2`;
  const migrations =
    await database.sql`select hash, created_at from drizzle.__drizzle_migrations order by id`;
  return JSON.stringify({ columns, constraints, indexes, migrations });
}

describe('pipeline migrate', () => {
  const name = uniqueDatabaseName('pipeline_migrate');
  const url = withDatabase(serverUrl(), name);
  let database: Database | undefined;

  afterAll(async () => {
    await database?.close();
    await dropDatabase(name);
  });

  it('creates the missing database and every table of the contract', async () => {
    const result = await runCli(['migrate'], { env: { DATABASE_URL: url } });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('created database');
    expect(result.stdout).toMatch(/applied \d+ of \d+ migrations/);

    database = await openDatabase(url, { max: 1 });
    const tables = await database.sql<{ table_name: string }[]>`
      select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`;
    // Plus the internal monthly rollups of traffic the analytics read (schema/rollups.ts).
    expect(tables.map((t) => t.table_name).sort()).toEqual(
      [...CONTRACT_TABLES, 'customer_month_revenue', 'traffic_value_counts'].sort(),
    );
  });

  it("keeps the seed's constraints on traffic, with the contract's fixes", async () => {
    if (!database) throw new Error('the first test did not migrate');
    const constraints = await database.sql<{ conname: string; contype: string; definition: string }[]>`
      select conname, contype, pg_get_constraintdef(oid) as definition
      from pg_constraint where conrelid = 'traffic'::regclass order by conname`;
    const byName = Object.fromEntries(constraints.map((c) => [c.conname, c]));
    expect(byName.uk_traffic_unique?.definition).toBe(
      'UNIQUE (send_date, account_id, customer_id, channel_id)',
    );
    expect(byName.fk_traffic_customer?.definition).toBe(
      'FOREIGN KEY (customer_id) REFERENCES customers(customer_id)',
    );
    expect(byName.fk_traffic_channel?.definition).toBe(
      'FOREIGN KEY (channel_id) REFERENCES channels(channel_id)',
    );
    expect(byName.ck_traffic_interactions_count_nonnegative?.definition).toBe(
      'CHECK ((interactions_count >= 0))',
    );
    expect(byName.ck_traffic_revenue_nonnegative?.definition).toBe('CHECK ((revenue_eur >= (0)::numeric))');
    // Partitioned by month (PostgreSQL wants the partition key in the primary key).
    expect(byName.traffic_pkey?.definition).toBe('PRIMARY KEY (traffic_id, send_date)');
    // No default partition: attaching a month would lock it and stall every reader of traffic.
    const [partitioning] = await database.sql<{ key: string; hasDefault: boolean }[]>`
      select pg_get_partkeydef(partrelid) as key, partdefid <> 0 as "hasDefault"
      from pg_partitioned_table where partrelid = 'traffic'::regclass`;
    expect(partitioning).toEqual({ key: 'RANGE (send_date)', hasDefault: false });

    const indexes = await database.sql<{ indexname: string; indexdef: string }[]>`
      select indexname, indexdef from pg_indexes where tablename = 'traffic'`;
    const definitions = indexes.map((i) => i.indexdef.replace(/^.* USING /, ''));
    expect(definitions.sort()).toEqual([
      'btree (account_id)', // uk_traffic_unique starts with send_date and serves date ranges
      'btree (send_date, account_id, customer_id, channel_id)',
      'btree (traffic_id, send_date)',
    ]);

    const [customersUnique] = await database.sql<{ definition: string }[]>`
      select pg_get_constraintdef(oid) as definition from pg_constraint
      where conrelid = 'customers'::regclass and contype = 'u'`;
    expect(customersUnique?.definition).toBe('UNIQUE (account_id)');
    const [channelsUnique] = await database.sql<{ definition: string }[]>`
      select pg_get_constraintdef(oid) as definition from pg_constraint
      where conrelid = 'channels'::regclass and contype = 'u'`;
    expect(channelsUnique?.definition).toBe('UNIQUE (channel_name)');
  });

  it('uses the fixed column types: numeric(14,2) sums, numeric(12,2) QoQ, timestamptz, as_of_date with an FK', async () => {
    if (!database) throw new Error('the first test did not migrate');
    const columns = await database.sql<
      {
        column_name: string;
        data_type: string;
        numeric_precision: number | null;
        numeric_scale: number | null;
      }[]
    >`select column_name, data_type, numeric_precision, numeric_scale from information_schema.columns
      where table_name = 'customers_revenue_by_period'`;
    const byName = Object.fromEntries(columns.map((c) => [c.column_name, c]));
    for (const sum of ['revenue_last_month', 'revenue_last_quarter', 'revenue_mtd', 'revenue_ytd']) {
      expect(byName[sum]).toMatchObject({ data_type: 'numeric', numeric_precision: 14, numeric_scale: 2 });
    }
    expect(byName.revenue_increase_pct_qoq).toMatchObject({ numeric_precision: 12, numeric_scale: 2 });
    expect(byName.as_of_date?.data_type).toBe('date');
    expect(byName.last_updated?.data_type).toBe('timestamp with time zone');
    const [fk] = await database.sql<{ definition: string }[]>`
      select pg_get_constraintdef(oid) as definition from pg_constraint
      where conrelid = 'customers_revenue_by_period'::regclass and contype = 'f'`;
    expect(fk?.definition).toBe('FOREIGN KEY (customer_id) REFERENCES customers(customer_id)');

    // A QoQ above 999.99 % (the seed's DECIMAL(5,2) limit) must fit; a negative revenue must not.
    await database.sql`insert into customers values (1, 100, 'A "quoted", <name>', 'SMB', 'Retail', 'Spain', '2024-01-01')`;
    await database.sql`insert into customers_revenue_by_period
      (customer_id, revenue_last_month, revenue_last_quarter, revenue_mtd, revenue_ytd, revenue_increase_pct_qoq, as_of_date)
      values (1, 0, 0, 0, 0, 123456.78, '2026-10-31')`;
    await database.sql`insert into channels values (1, 'SMS', 'SMS', 0.05)`;
    await createTrafficMonths(database.sql, ['2026-10-01']);
    await expect(
      database.sql`insert into traffic (send_date, account_id, customer_id, channel_id, interactions_count, revenue_eur)
        values ('2026-10-01', 100, 1, 1, 1, -1)`,
    ).rejects.toMatchObject({ constraint_name: 'ck_traffic_revenue_nonnegative' });
    await expect(
      database.sql`insert into traffic (send_date, account_id, customer_id, channel_id, interactions_count, revenue_eur)
        values ('2026-10-01', 100, 2, 1, 1, 1)`,
    ).rejects.toMatchObject({ constraint_name: 'fk_traffic_customer' });
  });

  it('changes nothing when run again', async () => {
    if (!database) throw new Error('the first test did not migrate');
    const before = await catalogFingerprint(database);
    const rowsBefore = await database.sql`select * from customers_revenue_by_period`;
    const result = await runCli(['migrate'], { env: { DATABASE_URL: url } });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/is up to date/);
    expect(result.stdout).not.toContain('created database');
    expect(await catalogFingerprint(database)).toBe(before);
    expect(await database.sql`select * from customers_revenue_by_period`).toEqual(rowsBefore);
  });

  it('lets several processes migrate the same fresh database at once', async () => {
    const concurrentName = uniqueDatabaseName('pipeline_migrate_concurrent');
    const concurrentUrl = withDatabase(serverUrl(), concurrentName);
    try {
      const results = await Promise.all(
        [1, 2, 3].map(() => runCli(['migrate'], { env: { DATABASE_URL: concurrentUrl } })),
      );
      for (const result of results) expect(result, result.stderr).toMatchObject({ code: 0, stderr: '' });
      expect(results.filter((r) => r.stdout.includes('applied'))).toHaveLength(1);
    } finally {
      await dropDatabase(concurrentName);
    }
  });
});
