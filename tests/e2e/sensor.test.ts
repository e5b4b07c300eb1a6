import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assets } from '../../assets/index.ts';
import { AssetGraph } from '../../engine/graph.ts';
import { createLogger } from '../../engine/logger.ts';
import { RunStore } from '../../engine/run-store.ts';
import { SENSOR_ID, sensorTick } from '../../engine/sensor.ts';
import { TickStore } from '../../engine/ticks.ts';
import { BullMqExecutor } from '../../queues/bullmq-executor.ts';
import { QUEUES } from '../../queues/catalog.ts';
import { type CliChild, type CliResult, runCli, startCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { ANSWER_TABLES, expectAnswers, expectedAnswers } from '../support/fixture-answers.ts';
import { monthsBetween, nodesOf, PARTITIONED, WINDOWED_ANSWERS } from '../support/graph-nodes.ts';
import { copyLanding } from '../support/landing-copy.ts';
import { deleteRedisKeys, waitFor } from '../support/processes.ts';
import { redisUrl, serverUrl, withDatabase } from '../support/urls.ts';

/**
 * The landing-zone sensor end to end: two `pipeline worker` processes, the sensor's job scheduler
 * ticking every second (`pipeline schedule`), and files dropped into, rewritten in and deleted from
 * a copy of the fixture landing zone (2025-09…2026-09 loaded first; 2026-10 arrives). Each change
 * must give exactly one run of exactly the nodes it makes missing or stale. The tests build on
 * each other in order.
 */

const PREFIX = `test-sensor-${randomUUID()}`;
const SETTLE_SECONDS = 2;
const TEST_TIMEOUT = 150_000;
const NEW_FILES = ['customers/2026-10.csv', 'traffic/2026-10.csv'];
/** What one changed traffic month makes stale: its load, its rollups, every window holding it, the by-period answer. */
const staleAfterTrafficChange = (month: string) =>
  [
    `traffic[${month}]`,
    `customer_month_revenue[${month}]`,
    `traffic_value_counts[${month}]`,
    'customers_revenue_by_period',
    ...nodesOf(WINDOWED_ANSWERS, monthsBetween(month, '2026-10').slice(0, 12)),
  ].sort();

type SensorRun = {
  id: string;
  status: string;
  files: { name: string; fingerprint: string }[];
  created_at: Date;
};

let database: TestDatabase;
let databaseUrl: string;
let landing: string;
let held: string;
let workers: CliChild[] = [];
let redis: Redis;
let scheduleQueue: Queue;

const env = () => ({
  DATABASE_URL: databaseUrl,
  REDIS_URL: redisUrl(),
  QUEUE_PREFIX: PREFIX,
  LANDING_DIR: landing,
  LANDING_SENSOR_INTERVAL: '1',
  LANDING_SETTLE_SECONDS: String(SETTLE_SECONDS),
  PIPELINE_ASSETS: undefined,
  LOG_LEVEL: 'info',
});
const cli = (args: string[]): Promise<CliResult> => runCli(args, { env: env(), timeoutMs: 120_000 });

const sensorRuns = async (): Promise<SensorRun[]> => {
  const rows = await database.sql<(Omit<SensorRun, 'files'> & { config: { files: SensorRun['files'] } })[]>`
    select id, status, config, created_at from runs where trigger = 'sensor' order by created_at`;
  return rows.map((row) => ({ ...row, files: row.config.files, created_at: new Date(row.created_at) }));
};
const nodesOfRun = async (runId: string) =>
  (
    await database.sql<{ id: string; status: string }[]>`
      select case when partition_key = '' then asset_key else asset_key || '[' || partition_key || ']' end as id, status
      from run_nodes where run_id = ${runId}`
  )
    .map((row) => row.id)
    .sort();
const tickCount = async () => {
  const [row] = await database.sql<{ n: number }[]>`
    select count(*)::int as n from ticks where scheduler_id = ${SENSOR_ID}`;
  return row?.n ?? 0;
};
const latestTick = async () => (await new TickStore(database.sql).recent(1, SENSOR_ID))[0];
/** Waits until `count` sensor runs exist and the last has ended; returns the last. */
const sensorRunEnded = (count: number) =>
  waitFor(
    `sensor run #${count} to end`,
    async () => {
      const runs = await sensorRuns();
      const last = runs[count - 1];
      return runs.length >= count && last && !['queued', 'running'].includes(last.status) ? last : undefined;
    },
    {
      timeoutMs: 120_000,
      intervalMs: 250,
      detail: async () =>
        `runs: ${JSON.stringify(await sensorRuns())}\nlatest tick: ${JSON.stringify(await latestTick())}\nworker: ${workers[0]?.stderr().slice(-2000)}`,
    },
  );
/** The run succeeded (or the failure says which node failed and why). */
const expectSucceeded = async (run: SensorRun) => {
  const failed = await database.sql<{ asset_key: string; partition_key: string; error: string }[]>`
    select asset_key, partition_key, error from run_nodes where run_id = ${run.id} and status = 'failed'`;
  expect(run.status, JSON.stringify(failed)).toBe('succeeded');
};
/** Lets `ticks` more sensor ticks happen. */
const moreTicks = async (ticks: number) => {
  const before = await tickCount();
  await waitFor(`${ticks} more sensor ticks`, async () => (await tickCount()) >= before + ticks, {
    timeoutMs: 30_000,
    intervalMs: 200,
  });
};
/** The text with the last field (revenue) of one line replaced, its line ending kept. */
const withRevenue = (text: string, line: number, revenue: (old: number) => string) => {
  const lines = text.split('\n');
  lines[line - 1] = (lines[line - 1] ?? '').replace(
    /([^,\r]*)(\r?)$/,
    (_, old: string, cr: string) => `${revenue(Number(old))}${cr}`,
  );
  return lines.join('\n');
};
/** One row's revenue changed, keeping the file valid. */
const editOneRow = (file: string, line = 2) =>
  writeFileSync(
    file,
    withRevenue(readFileSync(file, 'utf8'), line, (old) => (old + 1).toFixed(2)),
  );

beforeAll(async () => {
  database = await createTestDatabase();
  databaseUrl = withDatabase(serverUrl(), database.name);
  landing = copyLanding();
  held = `${landing}-held`;
  mkdirSync(held);
  for (const file of NEW_FILES) renameSync(join(landing, file), join(held, file.replace('/', '-')));
  const preload = await cli([
    'materialize',
    '* -group:market',
    '--from',
    '2025-09',
    '--to',
    '2026-09',
    '--in-process',
  ]);
  expect(preload.code, preload.stderr).toBe(0);
  redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  scheduleQueue = new Queue(QUEUES.schedule, { connection: redis, prefix: PREFIX });
  workers = [1, 2].map(() => startCli(['worker', '--concurrency', '2'], { env: env() }));
  await Promise.all(workers.map((worker) => worker.waitForStdout(/worker ready/, 60_000)));
  const scheduled = await cli(['schedule']);
  expect(scheduled.code, scheduled.stderr).toBe(0);
  expect(scheduled.stdout).toContain(`scheduler '${SENSOR_ID}': every 1 s`);
}, TEST_TIMEOUT);

afterAll(async () => {
  await Promise.all(workers.map((worker) => worker.stop()));
  await scheduleQueue?.close();
  redis?.disconnect();
  await deleteRedisKeys(redisUrl(), PREFIX);
  await database?.drop();
  rmSync(landing, { recursive: true, force: true });
  rmSync(held, { recursive: true, force: true });
});

describe('the landing-zone sensor', () => {
  it(
    'ticks every second on the workers and starts nothing while nothing is new',
    async () => {
      await moreTicks(2);
      const tick = await latestTick();
      expect(tick).toMatchObject({ outcome: 'current', filesSeen: 27, runId: null });
      expect(tick?.message).toBe('no new or changed files (27 seen)');
      expect(await sensorRuns()).toEqual([]);
    },
    TEST_TIMEOUT,
  );

  it(
    "a new month's customers and traffic files: one run of that month's nodes, with the answers of a full computation",
    async () => {
      for (const file of NEW_FILES)
        writeFileSync(join(landing, file), readFileSync(join(held, file.replace('/', '-'))));
      const run = await sensorRunEnded(1);
      await expectSucceeded(run);
      expect(run.files.map((file) => file.name).sort()).toEqual(NEW_FILES);
      // 2026-10 is the newest month: the only windows holding it are its own; nothing of the past.
      expect(await nodesOfRun(run.id)).toEqual(
        [...nodesOf(PARTITIONED, ['2026-10']), 'customers', 'customers_revenue_by_period'].sort(),
      );
      await expectAnswers(database, '2026-10-01', expectedAnswers('expected-2026-10.json'));
      const ticks = await new TickStore(database.sql).recent(50, SENSOR_ID);
      const started = ticks.filter((tick) => tick.outcome === 'started');
      expect(started).toHaveLength(1);
      expect(started[0]?.files.map((file) => `${file.change} ${file.name}`)).toEqual([
        'new customers/2026-10.csv',
        'new traffic/2026-10.csv',
      ]);
      // The ticks while it ran and after it left the files alone: still one run.
      await moreTicks(3);
      expect(await sensorRuns()).toHaveLength(1);
      expect((await latestTick())?.outcome).toBe('current');
    },
    TEST_TIMEOUT,
  );

  it(
    'a half-written file (appended in steps) is taken only once it has settled, whole',
    async () => {
      const file = join(landing, 'traffic/2026-05.csv');
      // The same rows with one revenue changed, written a third at a time, a tick apart.
      const edited = withRevenue(readFileSync(file, 'utf8'), 2, (old) => (old + 1).toFixed(2));
      const rows = edited.trimEnd().split('\n').length - 1;
      const third = Math.ceil(edited.length / 3);
      writeFileSync(file, edited.slice(0, third));
      await moreTicks(1);
      appendFileSync(file, edited.slice(third, 2 * third));
      await moreTicks(1);
      appendFileSync(file, edited.slice(2 * third));
      const lastWrite = Date.now();
      expect((await sensorRuns()).length, 'no run while it was being written').toBe(1);
      const run = await sensorRunEnded(2);
      await expectSucceeded(run);
      expect(run.created_at.getTime()).toBeGreaterThanOrEqual(lastWrite + SETTLE_SECONDS * 1000 - 50);
      const settling = (await new TickStore(database.sql).recent(50, SENSOR_ID)).filter((tick) =>
        tick.files.some((f) => f.name === 'traffic/2026-05.csv' && f.change === 'settling'),
      );
      expect(settling.length).toBeGreaterThanOrEqual(2);
      expect(settling[0]?.outcome).toBe('waiting');
      const [loaded] = await database.sql<{ rows: string }[]>`
      select metadata->>'rowsInFile' as rows from run_nodes
      where run_id = ${run.id} and asset_key = 'traffic' and partition_key = '2026-05'`;
      expect(Number(loaded?.rows)).toBe(rows);
      expect(await nodesOfRun(run.id)).toEqual(staleAfterTrafficChange('2026-05'));
    },
    TEST_TIMEOUT,
  );

  it(
    'editing one row of an old traffic file re-runs exactly the nodes it makes stale',
    async () => {
      editOneRow(join(landing, 'traffic/2026-03.csv'));
      const run = await sensorRunEnded(3);
      await expectSucceeded(run);
      expect(run.files.map((file) => file.name)).toEqual(['traffic/2026-03.csv']);
      expect(await nodesOfRun(run.id)).toEqual(staleAfterTrafficChange('2026-03'));
      const status = await cli(['status', '* -group:market', '--check']);
      expect(status.code, status.stdout).toBe(0);
    },
    TEST_TIMEOUT,
  );

  it(
    'a byte-identical rewrite starts nothing',
    async () => {
      const file = join(landing, 'traffic/2026-04.csv');
      writeFileSync(file, readFileSync(file));
      await new Promise((resolve) => setTimeout(resolve, SETTLE_SECONDS * 1000));
      await moreTicks(2);
      expect(await sensorRuns()).toHaveLength(3);
      expect((await latestTick())?.outcome).toBe('current');
    },
    TEST_TIMEOUT,
  );

  it(
    'two workers and ticks delivered twice still give one run per change',
    async () => {
      editOneRow(join(landing, 'traffic/2026-07.csv'));
      await new Promise((resolve) => setTimeout(resolve, SETTLE_SECONDS * 1000));
      // Besides the scheduler's own ticks: two more added at once, for the two workers to race.
      await Promise.all([scheduleQueue.add(SENSOR_ID, {}), scheduleQueue.add(SENSOR_ID, {})]);
      const run = await sensorRunEnded(4);
      await expectSucceeded(run);
      expect(run.files.map((file) => file.name)).toEqual(['traffic/2026-07.csv']);
      await moreTicks(3);
      expect(await sensorRuns()).toHaveLength(4);
      // The same tick delivered twice (a job handed on after its worker died) is one tick, one run.
      editOneRow(join(landing, 'traffic/2026-08.csv'));
      await new Promise((resolve) => setTimeout(resolve, SETTLE_SECONDS * 1000 + 200));
      const graph = new AssetGraph(assets);
      const deps = {
        graph,
        database,
        config: { landingDir: landing, exportDir: landing, allowBadRows: 0 },
        store: new RunStore(database.sql),
        ticks: new TickStore(database.sql),
        executor: new BullMqExecutor(new Queue(QUEUES.assets, { connection: redis, prefix: PREFIX }), graph),
        logger: createLogger('silent'),
        settleSeconds: SETTLE_SECONDS,
        excludedGroups: new Set(['market']),
      };
      const tick = { jobId: `delivered-twice-${randomUUID()}`, firedAt: new Date() };
      const [first, second] = await Promise.all([sensorTick(deps, tick), sensorTick(deps, tick)]);
      const [row] = await database.sql<
        { n: number }[]
      >`select count(*)::int as n from ticks where job_id = ${tick.jobId}`;
      expect(row?.n).toBe(1);
      expect(first.runId ?? second.runId).toBeTruthy();
      expect(first.runId === null || second.runId === null || first.runId === second.runId).toBe(true);
      const ran = await sensorRunEnded(5);
      await expectSucceeded(ran);
      await moreTicks(3);
      expect(await sensorRuns()).toHaveLength(5);
    },
    TEST_TIMEOUT,
  );

  it(
    'a change whose run failed is not retried by the sensor; the next version of the file is',
    async () => {
      const file = join(landing, 'traffic/2026-06.csv');
      const good = readFileSync(file, 'utf8');
      writeFileSync(
        file,
        withRevenue(good, 2, () => 'not-a-number'),
      );
      const failed = await sensorRunEnded(6);
      expect(failed.status).toBe('failed');
      await moreTicks(3);
      expect(await sensorRuns()).toHaveLength(6);
      const tick = await latestTick();
      expect(tick?.outcome).toBe('waiting');
      expect(tick?.files).toContainEqual(
        expect.objectContaining({ name: 'traffic/2026-06.csv', change: 'failed', runId: failed.id }),
      );
      expect(tick?.message).toContain(`pipeline retry ${failed.id.slice(0, 8)}`);
      writeFileSync(
        file,
        withRevenue(good, 2, (old) => (old + 1).toFixed(2)),
      );
      const fixed = await sensorRunEnded(7);
      await expectSucceeded(fixed);
      expect(fixed.files.map((f) => f.name)).toEqual(['traffic/2026-06.csv']);
    },
    TEST_TIMEOUT,
  );

  it(
    'a deleted file is recorded and starts nothing',
    async () => {
      const deleted = readFileSync(join(landing, 'customers/2025-09.csv'));
      rmSync(join(landing, 'customers/2025-09.csv'));
      await moreTicks(2);
      const tick = await latestTick();
      expect(tick?.files).toContainEqual({
        name: 'customers/2025-09.csv',
        fingerprint: null,
        change: 'deleted',
      });
      expect(tick?.outcome).toBe('current');
      expect(await sensorRuns()).toHaveLength(7);
      // Put back as it was: the same bytes as loaded, so no change either.
      writeFileSync(join(landing, 'customers/2025-09.csv'), deleted);
      await new Promise((resolve) => setTimeout(resolve, SETTLE_SECONDS * 1000));
      await moreTicks(2);
      expect((await latestTick())?.files).toEqual([]);
      expect(await sensorRuns()).toHaveLength(7);
    },
    TEST_TIMEOUT,
  );

  it(
    'pausing stops the ticks, `pipeline schedule` keeps it paused, resuming starts them again',
    async () => {
      const paused = await cli(['schedule', '--pause', SENSOR_ID]);
      expect(paused.code, paused.stderr).toBe(0);
      expect(paused.stdout).toContain(`scheduler '${SENSOR_ID}': every 1 s — paused`);
      expect(await scheduleQueue.getJobScheduler(SENSOR_ID)).toBeUndefined();
      // A tick already being processed when it was paused may still land.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const before = await tickCount();
      const again = await cli(['schedule']);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain(`scheduler '${SENSOR_ID}': every 1 s — paused`);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(await tickCount()).toBe(before);
      expect(await scheduleQueue.getJobScheduler(SENSOR_ID)).toBeUndefined();
      const resumed = await cli(['schedule', '--resume', SENSOR_ID]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stdout).toMatch(new RegExp(`scheduler '${SENSOR_ID}': every 1 s\\n  next: `));
      await moreTicks(2);
    },
    TEST_TIMEOUT,
  );

  it(
    'after all of it, every answer equals a full computation from the same files',
    async () => {
      const fresh = await createTestDatabase();
      try {
        const full = await runCli(
          ['materialize', '* -group:market', '--from', '2025-09', '--to', '2026-10', '--in-process'],
          {
            env: { ...env(), DATABASE_URL: withDatabase(serverUrl(), fresh.name) },
            timeoutMs: 120_000,
          },
        );
        expect(full.code, full.stderr).toBe(0);
        const checksum = async (sql: TestDatabase['sql'], table: string) => {
          // Every column but the time a row was written.
          const [row] = await sql.unsafe<{ md5: string }[]>(
            `select md5(coalesce(string_agg(r, '|' order by r), '')) as md5
           from (select (to_jsonb(t) - 'last_updated')::text as r from ${table} t) rows`,
          );
          return row?.md5;
        };
        for (const table of [...ANSWER_TABLES, 'customer_month_revenue', 'traffic_value_counts']) {
          expect(await checksum(database.sql, table), table).toBe(await checksum(fresh.sql, table));
        }
      } finally {
        await fresh.drop();
      }
    },
    TEST_TIMEOUT,
  );
});
