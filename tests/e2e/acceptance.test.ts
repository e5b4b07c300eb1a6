import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliChild, type CliResult, runCli, startCli } from '../support/cli.ts';
import { dropDatabase, uniqueDatabaseName } from '../support/database.ts';
import { type LandingZone, readLandingZone } from '../support/landing.ts';
import { deleteRedisKeys, waitFor } from '../support/processes.ts';
import {
  byteOrder,
  type ReferenceAnswers,
  referenceAnswers,
  type Statistics,
  type TextRow,
} from '../support/reference-answers.ts';
import { redisUrl, serverUrl, withDatabase } from '../support/urls.ts';

/**
 * The whole system, as a user runs it (issue 10, item 3): a generated landing zone, a fresh
 * database migrated by the CLI, two `pipeline worker` processes, `pipeline schedule`, and a tick of
 * the monthly schedule for 2026-10 — then every analytics table of 2026-10 held, row by row and
 * column by column, against answers computed here from the CSV files themselves
 * (tests/support/reference-answers.ts), never from the pipeline's SQL.
 */

const PARTITION = '2026-10';
/** 60 customers over 14 months: a seed whose data reaches every edge of the rules (checked below). */
const SEED = 248;
const PERIOD = '2026-10-01';
/** The tick of 2026-11-01 09:00 UTC runs the month that just ended: 2026-10 (docs/contract.md §2). */
const FIRED_AT = '2026-11-01T09:00:00.000Z';
/** README "Schedule": the scheduler's queue and the name of its tick jobs. */
const SCHEDULE_QUEUE = 'schedule';
const TICK_JOB_NAME = 'monthly-asset-graph';
/** docs/contract.md §4: every asset outside group market; the graph may add internal ones. */
const UNPARTITIONED = ['channels', 'customers', 'customers_revenue_by_period'];
const PARTITIONED = [
  'customer_snapshots',
  'traffic',
  'industry_exposure',
  'segment_distribution',
  'segment_changes',
  'top_customers',
  'consistently_active_top_customers',
  'customer_revenue_categories',
  'industry_exposure_extended',
  'descriptive_statistics',
];

const prefix = `acceptance-${randomUUID()}`;
const databaseName = uniqueDatabaseName('pipeline_acceptance');
const databaseUrl = withDatabase(serverUrl(), databaseName);
const landing = mkdtempSync(join(tmpdir(), 'pipeline-acceptance-'));
const workers: CliChild[] = [];
let sql: Sql | undefined;
let redis: Redis | undefined;
let scheduleQueue: Queue | undefined;
let zone: LandingZone;
let expected: ReferenceAnswers;
let tickRunId: string;
let tickStartedAt: Date;
let preload: CliResult;
/** Per month, right after the preload: traffic's rows and revenue, and what the rollup holds of it. */
let preloaded: { month: string; rows: number; revenue: string; rollup: string | null }[];

const env = {
  DATABASE_URL: databaseUrl,
  REDIS_URL: redisUrl(),
  QUEUE_PREFIX: prefix,
  LANDING_DIR: landing,
  // The monthly tick is what this test drives: a sensor tick loading the same files first would
  // leave the tick nothing to run (the sensor has its own tests).
  LANDING_SENSOR_INTERVAL: '0',
  // info: each job's "<node> succeeded" line on the worker's stdout says which worker ran it.
  LOG_LEVEL: 'info',
};

/** Runs a CLI command that must succeed, failing with its output otherwise. */
async function cli(args: string[], timeoutMs = 60_000): Promise<CliResult> {
  const result = await runCli(args, { env, timeoutMs });
  if (result.code !== 0) {
    throw new Error(`pipeline ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  }
  return result;
}

const workerOutput = () =>
  workers.map((worker, i) => `worker ${i + 1} stderr:\n${worker.stderr().slice(-2000)}`).join('\n');
const workerGone = () =>
  workers.some((worker) => worker.child.exitCode !== null || worker.child.signalCode !== null)
    ? `a worker exited\n${workerOutput()}`
    : undefined;

beforeAll(async () => {
  const sizes = ['--customers', '60', '--months', '14', '--end', PARTITION, '--seed', String(SEED)];
  await cli(['generate', '--out', landing, ...sizes]);
  zone = readLandingZone(landing);
  expected = referenceAnswers(zone, PARTITION);
  // migrate creates the missing database, then applies every migration.
  await cli(['migrate']);
  sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });

  workers.push(startCli(['worker', '--concurrency', '2'], { env }));
  workers.push(startCli(['worker', '--concurrency', '2'], { env }));
  await Promise.all(workers.map((worker) => worker.waitForStdout(/worker ready/)));
  await cli(['schedule']);

  // The tick materializes what is missing or stale of 2026-10: load the 13 months before it
  // (ingest and the monthly rollups the 12-month questions read) through the same workers first.
  // customers reads every snapshot of the data, 2026-10's included: --upstream brings that one.
  preload = await cli(
    [
      'materialize',
      'group:ingest group:rollups',
      '--from',
      '2025-09',
      '--to',
      '2026-09',
      '--upstream',
      'missing',
    ],
    120_000,
  );

  preloaded = await sql<typeof preloaded>`
    select to_char(t.send_date, 'YYYY-MM') as month, count(*)::int as rows, sum(t.revenue_eur)::text as revenue,
      (select sum(r.revenue_eur)::text from customer_month_revenue r
        where r.month = date_trunc('month', min(t.send_date))::date) as rollup
    from traffic t group by 1 order by 1`;

  redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  scheduleQueue = new Queue(SCHEDULE_QUEUE, { connection: redis, prefix });
  tickStartedAt = new Date();
  const tick = await scheduleQueue.add(TICK_JOB_NAME, { firedAt: FIRED_AT });
  const queue = scheduleQueue;
  const completed = await waitFor(
    `tick ${tick.id} to be processed`,
    async () =>
      (await queue.getJobState(String(tick.id))) === 'completed' ? queue.getJob(String(tick.id)) : false,
    { timeoutMs: 60_000, giveUpWhen: workerGone, detail: workerOutput },
  );
  tickRunId = (completed.returnvalue as { runId: string }).runId;
  const db = sql;
  await waitFor(
    `run ${tickRunId} of the tick to finish`,
    async () => {
      const [run] = await db<{ status: string }[]>`select status from runs where id = ${tickRunId}`;
      return run && ['succeeded', 'failed', 'canceled'].includes(run.status);
    },
    { timeoutMs: 90_000, giveUpWhen: workerGone, detail: workerOutput },
  );
}, 240_000);

afterAll(async () => {
  await Promise.all(workers.map((worker) => worker.stop(20_000)));
  await scheduleQueue?.close();
  redis?.disconnect();
  await deleteRedisKeys(redisUrl(), prefix);
  await sql?.end({ timeout: 5 });
  await dropDatabase(databaseName);
  rmSync(landing, { recursive: true, force: true });
}, 60_000);

/**
 * The rows of a table for 2026-10, every column the reference has as PostgreSQL prints it, ordered
 * by the table's own columns `order` (not their text: '10' sorts before '9').
 */
async function tableRows(table: keyof ReferenceAnswers, ...order: string[]): Promise<TextRow[]> {
  const columns = Object.keys(firstRow(table));
  const where = columns.includes('period') ? `where t.period = '${PERIOD}'` : '';
  return db().unsafe<TextRow[]>(
    `select ${columns.map((column) => `t.${column}::text as ${column}`).join(', ')} from ${table} t ${where}
     order by ${order.map((column) => `t.${column}`).join(', ')}`,
  );
}

function firstRow(table: keyof ReferenceAnswers): Record<string, unknown> {
  const [row] = expected[table];
  if (!row) throw new Error(`the reference has no rows of ${table}: choose another seed`);
  return row;
}

function db(): Sql {
  if (!sql) throw new Error('no database');
  return sql;
}

/** Sorts rows by a text column in byte order (collation "C"), as the reference orders them. */
const byColumn = (column: string) => (a: TextRow, b: TextRow) => byteOrder(a[column] ?? '', b[column] ?? '');

describe(`the scheduled tick of ${FIRED_AT} on two workers`, () => {
  it('loaded the 13 months before it through the workers', () => {
    expect(preload.stdout).toMatch(/^run \S+ succeeded: \d+ succeeded, 0 failed in /m);
  });

  it('left every month of the 13 loaded, each with its rollup equal to its traffic', () => {
    const months = [...zone.traffic.keys()].filter((month) => month < PARTITION);
    expect(preloaded.map((row) => row.month)).toEqual(months);
    for (const row of preloaded) {
      expect(row.rows, row.month).toBeGreaterThan(0);
      expect(row.rollup, row.month).toBe(row.revenue);
    }
  });

  it(`ran every asset outside group market for ${PARTITION}, triggered by the schedule, and succeeded`, async () => {
    const [run] = await db()<{ trigger: string; status: string; from: string; to: string }[]>`
      select trigger, status, partition_from as from, partition_to as to from runs where id = ${tickRunId}`;
    expect(run).toEqual({ trigger: 'schedule', status: 'succeeded', from: PARTITION, to: PARTITION });
    const nodes = await runNodes();
    expect(nodes.filter((node) => node.status !== 'succeeded')).toEqual([]);
    const keys = nodes.map((node) => node.key);
    // What the preload made current is not run again: channels, customers and the 2026-10 snapshot.
    const current = ['channels', 'customers', `customer_snapshots[${PARTITION}]`];
    const expectedKeys = [...UNPARTITIONED, ...PARTITIONED.map((key) => `${key}[${PARTITION}]`)].filter(
      (key) => !current.includes(key),
    );
    expect(keys).toEqual(expect.arrayContaining(expectedKeys));
    expect(keys.filter((key) => current.includes(key))).toEqual([]);
    // Nothing of another month, nothing of group market.
    expect(keys.filter((key) => key.includes('[') && !key.endsWith(`[${PARTITION}]`))).toEqual([]);
    expect(keys.filter((key) => key.startsWith('stock_'))).toEqual([]);
    // Every check of every node passed (warn ones too: each month of W12 has traffic).
    const failed = await db()`
      select asset_key, check_name, message from check_results where run_id = ${tickRunId} and not passed`;
    expect(failed).toEqual([]);
  });

  it('ran each node of the run exactly once, and both workers took part in the work', async () => {
    const succeeded = workers.map((worker) => succeededJobs(worker.stdout()));
    const ofTheRun = succeeded.flatMap((jobs) => jobs.filter((job) => job.jobId.startsWith(`${tickRunId}.`)));
    const nodeKeys = (await runNodes()).map((node) => node.key).sort();
    expect(ofTheRun.map((job) => job.name).sort()).toEqual(nodeKeys);
    for (const jobs of succeeded) expect(jobs.length).toBeGreaterThan(0);
  });
});

/** The tick run's nodes, keyed `asset` or `asset[partition]` like the jobs, with any error. */
async function runNodes(): Promise<{ key: string; status: string; error: string | null }[]> {
  const rows = await db()<
    { asset_key: string; partition_key: string; status: string; error: string | null }[]
  >`
    select asset_key, partition_key, status, error from run_nodes where run_id = ${tickRunId} order by asset_key`;
  return rows.map((row) => ({
    key: row.partition_key ? `${row.asset_key}[${row.partition_key}]` : row.asset_key,
    status: row.status,
    error: row.error,
  }));
}

/** The "<node> succeeded" lines a worker logged (JSON lines on stdout). */
function succeededJobs(stdout: string): { jobId: string; name: string }[] {
  return stdout.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    const entry = JSON.parse(line) as { jobId?: unknown; msg?: unknown };
    const match = typeof entry.msg === 'string' ? /^(\S+) succeeded$/.exec(entry.msg) : null;
    return match?.[1] && typeof entry.jobId === 'string' ? [{ jobId: entry.jobId, name: match[1] }] : [];
  });
}

describe(`every analytics table of ${PARTITION} equals the answer computed from the landing files`, () => {
  it(`uses a landing zone (seed ${SEED}) that reaches the edges of the rules`, () => {
    const segments = (month: string) =>
      new Map(zone.snapshots.get(month)?.map((row) => [row.customer_id, row.segment]));
    const [p13, p12] = [segments('2025-09'), segments('2025-10')];
    // Q3: a change from P-13 to P-12 (outside the window) and one from P-12 to P-11 (inside).
    expect([...p12].some(([id, segment]) => p13.has(id) && p13.get(id) !== segment)).toBe(true);
    expect(expected.segment_changes.map((row) => row.changed_month)).toContain('2025-11-01');
    // A customer of C(P) without revenue in W12 (0, inactive, not a top customer) …
    expect(expected.customer_revenue_categories.some((row) => row.revenue_eur === '0.00')).toBe(true);
    // … customers that left before P (in customers, not in C(P)) …
    expect(expected.customers_revenue_by_period.length).toBeGreaterThan(
      expected.customer_revenue_categories.length,
    );
    // … top-10 % customers without revenue in some month of W12 (Q5 leaves them out) …
    const topN = Math.ceil(expected.customer_revenue_categories.length / 10);
    expect(expected.consistently_active_top_customers.length).toBeGreaterThan(0);
    expect(expected.consistently_active_top_customers.length).toBeLessThan(topN);
    // … and QoQ on a zero base (NULL), falling (negative) and above 999.99 %.
    const qoq = expected.customers_revenue_by_period.map((row) => row.revenue_increase_pct_qoq);
    expect(qoq).toContain(null);
    expect(qoq.some((pct) => pct?.startsWith('-'))).toBe(true);
    expect(qoq.some((pct) => pct !== null && Number(pct) > 999.99)).toBe(true);
  });

  it('holds rows of 2026-10 only (the tick wrote no other period)', async () => {
    for (const table of Object.keys(expected).filter((table) => table !== 'customers_revenue_by_period')) {
      const periods = await db().unsafe<{ period: string }[]>(
        `select distinct period::text as period from ${table}`,
      );
      expect(
        periods.map((row) => row.period),
        table,
      ).toEqual([PERIOD]);
    }
  });

  it('compares every column of every table (none left out)', async () => {
    for (const table of Object.keys(expected) as (keyof ReferenceAnswers)[]) {
      const rows = await db()<{ column_name: string }[]>`
        select column_name from information_schema.columns
        where table_schema = 'public' and table_name = ${table} order by column_name`;
      const compared = [...Object.keys(firstRow(table)), 'period'];
      const notCompared = rows.map((row) => row.column_name).filter((column) => !compared.includes(column));
      // last_updated is when the row was written (checked below), not an answer.
      expect(notCompared, table).toEqual(table === 'customers_revenue_by_period' ? ['last_updated'] : []);
    }
  });

  it('Q1 industry_exposure', async () => {
    expect(await tableRows('industry_exposure', 'revenue_rank')).toEqual(expected.industry_exposure);
  });

  it('Q2 segment_distribution', async () => {
    const rows = await tableRows('segment_distribution', 'segment');
    expect(rows.sort(byColumn('segment'))).toEqual(expected.segment_distribution);
  });

  it('Q3 segment_changes', async () => {
    expect(await tableRows('segment_changes', 'customer_id', 'changed_month')).toEqual(
      expected.segment_changes,
    );
  });

  it('Q4 top_customers', async () => {
    expect(await tableRows('top_customers', 'revenue_rank')).toEqual(expected.top_customers);
  });

  it('Q5 consistently_active_top_customers', async () => {
    expect(await tableRows('consistently_active_top_customers', 'revenue_rank')).toEqual(
      expected.consistently_active_top_customers,
    );
  });

  it('customer_revenue_categories', async () => {
    expect(await tableRows('customer_revenue_categories', 'customer_id')).toEqual(
      expected.customer_revenue_categories,
    );
  });

  it('industry_exposure_extended', async () => {
    const rows = await tableRows('industry_exposure_extended', 'industry');
    expect(rows.sort(byColumn('industry'))).toEqual(expected.industry_exposure_extended);
  });

  it('descriptive_statistics (within 1e-9 relative)', async () => {
    const rows = await db()<Statistics[]>`
      select table_name, column_name, n::int as n, min, max, mean, median, stddev, q1, q3
      from descriptive_statistics where period = ${PERIOD}`;
    const key = (row: Statistics) => `${row.table_name}.${row.column_name}`;
    const byKey = (a: Statistics, b: Statistics) => byteOrder(key(a), key(b));
    expect(rows.sort(byKey).map(key)).toEqual([...expected.descriptive_statistics].sort(byKey).map(key));
    const mismatches = expected.descriptive_statistics.flatMap((want) => {
      const got = rows.find((row) => key(row) === key(want));
      const fields = ['n', 'min', 'max', 'mean', 'median', 'stddev', 'q1', 'q3'] as const;
      return fields
        .filter((field) => !close(got?.[field], want[field]))
        .map((field) => `${key(want)}.${field}: got ${got?.[field]}, expected ${want[field]}`);
    });
    expect(mismatches).toEqual([]);
  });

  it('customers_revenue_by_period (as of the last day of the latest month with traffic)', async () => {
    expect(await tableRows('customers_revenue_by_period', 'customer_id')).toEqual(
      expected.customers_revenue_by_period,
    );
    // Rewritten by the tick's run: every row written after the tick was added.
    const [written] = await db()<{ oldest: Date }[]>`
      select min(last_updated) as oldest from customers_revenue_by_period`;
    expect(written?.oldest.getTime()).toBeGreaterThanOrEqual(tickStartedAt.getTime() - 1_000);
  });
});

/** Equal within 1e-9 relative (both null, or both numbers). */
function close(got: number | null | undefined, want: number | null): boolean {
  if (want === null || got === null || got === undefined) return got === want;
  return Math.abs(got - want) <= 1e-9 * Math.max(Math.abs(got), Math.abs(want));
}
