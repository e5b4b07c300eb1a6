import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AssetGraph } from '../../engine/graph.ts';
import { createLogger } from '../../engine/logger.ts';
import { RunStore } from '../../engine/run-store.ts';
import { TickStore } from '../../engine/ticks.ts';
import { BullMqExecutor } from '../../queues/bullmq-executor.ts';
import {
  type AssetJobData,
  QUEUES,
  SCHEDULER_ID,
  TICK_JOB_NAME,
  type TickJobData,
} from '../../queues/catalog.ts';
import { startMonthlyRun } from '../../workers/tick.ts';
import { TOY_TABLES_SQL } from '../fixtures/toy-assets.ts';
import { assets as scheduledToyAssets } from '../fixtures/toy-assets-with-market.ts';
import { type CliChild, REPO_ROOT, runCli, startCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { deleteRedisKeys, waitFor } from '../support/processes.ts';
import { redisUrl, serverUrl, withDatabase } from '../support/urls.ts';

// The toy graph with one asset (quotes) in group market, which the monthly run leaves out.
const TOY_ASSETS = join(REPO_ROOT, 'tests/fixtures/toy-assets-with-market.ts');
const prefix = `test-${randomUUID()}`;

let database: TestDatabase;
let databaseUrl: string;
let connection: Redis;
let scheduleQueue: Queue<TickJobData>;
let assetQueue: Queue<AssetJobData>;
const workers: CliChild[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  databaseUrl = withDatabase(serverUrl(), database.name);
  await database.sql.unsafe(TOY_TABLES_SQL);
  connection = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  scheduleQueue = new Queue<TickJobData>(QUEUES.schedule, { connection, prefix });
  assetQueue = new Queue<AssetJobData>(QUEUES.assets, { connection, prefix });
});

afterAll(async () => {
  await Promise.all(workers.map((worker) => worker.stop(10_000)));
  await scheduleQueue?.close();
  await assetQueue?.close();
  connection?.disconnect();
  await deleteRedisKeys(redisUrl(), prefix);
  await database?.drop();
});

const env = () => ({
  DATABASE_URL: databaseUrl,
  REDIS_URL: redisUrl(),
  QUEUE_PREFIX: prefix,
  PIPELINE_ASSETS: TOY_ASSETS,
  LOG_LEVEL: 'warn',
  // The monthly scheduler alone (the sensor has tests of its own: sensor.test.ts).
  LANDING_SENSOR_INTERVAL: '0',
});

/** `2026-12-01 09:00:00Z`: the first 1st-of-the-month 09:00 UTC strictly after `now`. */
function nextFireAfter(now: Date): Date {
  const thisMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1, 9));
  return thisMonth.getTime() > now.getTime()
    ? thisMonth
    : new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1, 9));
}

const shown = (date: Date) => date.toISOString().replace('T', ' ').replace('.000Z', 'Z');

/** YYYY-MM of the month before the one containing `date` (UTC). */
function monthBefore(date: Date): string {
  const month = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() - 1, 1));
  return month.toISOString().slice(0, 7);
}

/** Every asset except quotes (group market), with the partition the run should give it. */
function scheduledNodes(partition: string): string[] {
  return ['daily', 'joined', 'left', 'right', 'rolling', 'source', 'summary']
    .map((key) => (['source', 'summary'].includes(key) ? key : `${key}[${partition}]`))
    .sort();
}

type RunRow = {
  id: string;
  trigger: string;
  status: string;
  selection: string;
  partition_from: string | null;
  partition_to: string | null;
  config: Record<string, unknown>;
};

async function runOfTick(tickId: string): Promise<RunRow[]> {
  return database.sql<RunRow[]>`
    select id, trigger, status, selection, partition_from, partition_to, config
    from runs where config->>'tickId' = ${tickId}`;
}

async function nodesOf(runId: string): Promise<{ nodes: string[]; statuses: string[] }> {
  const rows = await database.sql<{ asset_key: string; partition_key: string; status: string }[]>`
    select asset_key, partition_key, status from run_nodes where run_id = ${runId}`;
  return {
    nodes: rows
      .map((row) => (row.partition_key ? `${row.asset_key}[${row.partition_key}]` : row.asset_key))
      .sort(),
    statuses: [...new Set(rows.map((row) => row.status))],
  };
}

async function startWorker(): Promise<CliChild> {
  const worker = startCli(['worker', '--concurrency', '3'], { env: env() });
  workers.push(worker);
  await worker.waitForStdout(/worker ready/);
  return worker;
}

/** Waits for the tick job to complete and for the run it started to finish; returns that run. */
async function tickRun(tickId: string): Promise<RunRow> {
  await waitFor(
    `tick job ${tickId} to complete`,
    async () => (await scheduleQueue.getJobState(tickId)) === 'completed',
    {
      timeoutMs: 60_000,
      detail: async () =>
        `state ${await scheduleQueue.getJobState(tickId)}; worker:\n${workers.at(-1)?.stderr()}`,
    },
  );
  return waitFor(
    `the run of tick ${tickId} to finish`,
    async () => {
      const [run] = await runOfTick(tickId);
      return run && ['succeeded', 'failed', 'canceled'].includes(run.status) ? run : undefined;
    },
    { timeoutMs: 90_000, detail: async () => JSON.stringify(await runOfTick(tickId)) },
  );
}

describe('pipeline schedule', () => {
  it('run 5 times at once and twice more leaves one scheduler and one pending tick', async () => {
    const expectedNext = `next: ${shown(nextFireAfter(new Date()))}`;
    const schedule = () => runCli(['schedule'], { env: env(), timeoutMs: 90_000 });
    const concurrent = await Promise.all(Array.from({ length: 5 }, schedule));
    const sequential = [await schedule(), await schedule()];
    for (const result of [...concurrent, ...sequential]) {
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`scheduler '${SCHEDULER_ID}': pattern '0 9 1 * *', tz UTC`);
      expect(result.stdout).toContain(expectedNext);
      expect(result.stdout).toContain('landing-zone sensor removed (LANDING_SENSOR_INTERVAL=0)');
    }

    const schedulers = await scheduleQueue.getJobSchedulers();
    expect(schedulers).toHaveLength(1);
    expect(schedulers[0]).toMatchObject({ key: SCHEDULER_ID, pattern: '0 9 1 * *', tz: 'UTC' });
    expect(schedulers[0]?.next).toBe(nextFireAfter(new Date()).getTime());

    const counts = await scheduleQueue.getJobCounts();
    expect(counts).toMatchObject({ delayed: 1, waiting: 0, active: 0, prioritized: 0 });
    const [tick] = await scheduleQueue.getDelayed();
    expect(tick?.name).toBe(TICK_JOB_NAME);
    expect(tick?.data).toEqual({});
    expect((tick?.timestamp ?? 0) + (tick?.delay ?? 0)).toBe(nextFireAfter(new Date()).getTime());
    // Nothing reached the asset queue: a schedule is not a run.
    expect(await assetQueue.count()).toBe(0);
  });
});

describe('a tick of the monthly schedule', () => {
  let firstTickId: string;

  it('fired on 2026-12-01 runs every asset outside group market for 2026-11, which succeeds', async () => {
    await startWorker();
    const job = await scheduleQueue.add(TICK_JOB_NAME, { firedAt: '2026-12-01T09:00:00.000Z' });
    firstTickId = String(job.id);
    const run = await tickRun(firstTickId);
    expect(run).toMatchObject({
      trigger: 'schedule',
      status: 'succeeded',
      partition_from: '2026-11',
      partition_to: '2026-11',
      selection: '* except group:market',
    });
    expect(run.config).toMatchObject({ tickId: firstTickId, firedAt: '2026-12-01T09:00:00.000Z' });
    const { nodes, statuses } = await nodesOf(run.id);
    expect(nodes).toEqual(scheduledNodes('2026-11'));
    expect(statuses).toEqual(['succeeded']);
    // The tick's job reports the run it started.
    const finished = await scheduleQueue.getJob(firstTickId);
    expect(finished?.returnvalue).toEqual({ runId: run.id, partition: '2026-11', alreadyStarted: false });
    // The market asset never ran; every scheduled node wrote its value once.
    const events = await database.sql<{ asset: string; partition: string; ends: number }[]>`
      select asset, partition, count(*)::int as ends from toy_events
      where run_id = ${run.id} and event = 'end' group by asset, partition`;
    expect(events.map((e) => (e.partition ? `${e.asset}[${e.partition}]` : e.asset)).sort()).toEqual(
      scheduledNodes('2026-11'),
    );
    expect(events.every((e) => e.ends === 1)).toBe(true);
  });

  it('delivered again with the same tick id starts no second run', async () => {
    const graph = new AssetGraph(scheduledToyAssets);
    const deps = {
      graph,
      database,
      config: { landingDir: '', exportDir: '', allowBadRows: 0 },
      store: new RunStore(database.sql),
      ticks: new TickStore(database.sql),
      executor: new BullMqExecutor(assetQueue, graph),
      logger: createLogger('silent'),
      settleSeconds: 0,
    };
    const [before] = await runOfTick(firstTickId);
    const again = await startMonthlyRun(deps, {
      id: firstTickId,
      firedAt: new Date('2026-12-01T09:00:00.000Z'),
    });
    expect(again).toEqual({ runId: before?.id, partition: '2026-11', alreadyStarted: true });
    expect(await runOfTick(firstTickId)).toHaveLength(1);
    const [row] = await database.sql<{ n: number }[]>`
      select count(*)::int as n from runs where trigger = 'schedule' and partition_from = '2026-11'`;
    expect(row?.n).toBe(1);
  });

  it('fired on 2027-01-01 runs 2026-12 (across the year boundary)', async () => {
    const job = await scheduleQueue.add(TICK_JOB_NAME, { firedAt: '2027-01-01T09:00:00.000Z' });
    const run = await tickRun(String(job.id));
    expect(run).toMatchObject({
      trigger: 'schedule',
      status: 'succeeded',
      partition_from: '2026-12',
      partition_to: '2026-12',
    });
    const { nodes, statuses } = await nodesOf(run.id);
    // Only what is missing or stale: source (unpartitioned, unchanged since the first tick) is
    // current; summary reads every month of joined, so the new month makes it run again.
    expect(nodes).toEqual(scheduledNodes('2026-12').filter((node) => node !== 'source'));
    expect(statuses).toEqual(['succeeded']);
  });

  it('a tick whose month is current starts no run', async () => {
    const again = await startMonthlyRun(
      {
        graph: new AssetGraph(scheduledToyAssets),
        database,
        config: { landingDir: '', exportDir: '', allowBadRows: 0 },
        store: new RunStore(database.sql),
        ticks: new TickStore(database.sql),
        executor: new BullMqExecutor(assetQueue, new AssetGraph(scheduledToyAssets)),
        logger: createLogger('silent'),
        settleSeconds: 0,
      },
      { id: 'a-second-tick-for-2026-12', firedAt: new Date('2027-01-01T09:00:00.000Z') },
    );
    expect(again).toEqual({ runId: null, partition: '2026-12', alreadyStarted: false });
  });

  it('the pending scheduled tick, promoted early, runs the month before its own fire time', async () => {
    // Bull Board's "Promote" on the scheduler's delayed tick: the tick carries no firedAt, so the
    // worker must take the time it was scheduled for, not the time it happens to be processed.
    const [pending] = await scheduleQueue.getDelayed();
    expect(pending).toBeDefined();
    const fireTime = nextFireAfter(new Date());
    // Make that month stale, so the tick has something to run (a current month starts no run).
    await database.sql`update materializations set data_version = 'changed since' where asset_key = 'source'`;
    await pending?.promote();
    const run = await tickRun(String(pending?.id));
    expect(run).toMatchObject({
      trigger: 'schedule',
      status: 'succeeded',
      partition_from: monthBefore(fireTime),
      partition_to: monthBefore(fireTime),
    });
    expect(run.config).toMatchObject({ firedAt: fireTime.toISOString() });
    // Processing a tick schedules the next one: still one scheduler and one pending tick.
    expect(await scheduleQueue.getJobSchedulers()).toHaveLength(1);
    const [next] = await scheduleQueue.getDelayed();
    expect(await scheduleQueue.getDelayedCount()).toBe(1);
    const following = nextFireAfter(fireTime);
    expect((next?.timestamp ?? 0) + (next?.delay ?? 0)).toBe(following.getTime());
  });
});

describe('a job on the schedule queue that the scheduler did not make', () => {
  /** Waits for a tick job to fail; its reason. */
  async function failedReason(tickId: string): Promise<string> {
    await waitFor(
      `tick job ${tickId} to fail`,
      async () => (await scheduleQueue.getJobState(tickId)) === 'failed',
      { timeoutMs: 30_000, detail: async () => `state ${await scheduleQueue.getJobState(tickId)}` },
    );
    return (await scheduleQueue.getJob(tickId))?.failedReason ?? '';
  }

  it('is rejected without a fire time (never run as "now"), once, and starts no run', async () => {
    if (workers.length === 0) await startWorker();
    const before = await database.sql<{ n: number }[]>`select count(*)::int as n from runs`;
    // What a cross-site form post once added through Bull Board: an empty job.
    const job = await scheduleQueue.add(TICK_JOB_NAME, {});
    expect(await failedReason(String(job.id))).toBe(
      `tick ${job.id} did not come from the job scheduler '${SCHEDULER_ID}' and carries no firedAt: not run`,
    );
    expect((await scheduleQueue.getJob(String(job.id)))?.attemptsMade).toBe(1);
    expect(await runOfTick(String(job.id))).toEqual([]);
    const after = await database.sql<{ n: number }[]>`select count(*)::int as n from runs`;
    expect(after[0]?.n).toBe(before[0]?.n);
  });

  it('is rejected with a clear reason for a fire time out of range, or data or a name far too large', async () => {
    if (workers.length === 0) await startWorker();
    const ancient = await scheduleQueue.add(TICK_JOB_NAME, { firedAt: '0000-01-01T00:00:00.000Z' });
    expect(await failedReason(String(ancient.id))).toBe(
      `job ${TICK_JOB_NAME} carries invalid data: ✖ must be a time from 1900 to 9999\n  → at firedAt`,
    );
    const bulky = await scheduleQueue.add(TICK_JOB_NAME, {
      firedAt: '2026-12-01T09:00:00.000Z',
      padding: 'x'.repeat(100_000),
    } as TickJobData);
    expect(await failedReason(String(bulky.id))).toMatch(
      /^job monthly-asset-graph carries 1000\d\d characters of data, more than 4096$/,
    );
    const named = await scheduleQueue.add('y'.repeat(50_000), { firedAt: '2026-12-01T09:00:00.000Z' });
    const reason = await failedReason(String(named.id));
    expect(reason).toBe(`a job named '${'y'.repeat(40)}…' (50000 characters) is not the pipeline's`);
    for (const job of [ancient, bulky, named]) expect(await runOfTick(String(job.id))).toEqual([]);
  });
});
