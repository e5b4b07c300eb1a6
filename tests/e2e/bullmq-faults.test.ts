import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactUrl } from '../../engine/errors.ts';
import { type AssetJobData, assetJobId, QUEUES } from '../../queues/catalog.ts';
import { type CliChild, REPO_ROOT, runCli, startCli } from '../support/cli.ts';
import {
  freePort,
  type OwnRedis,
  startRedisServer,
  startTcpProxy,
  type TcpProxy,
  waitFor,
} from '../support/processes.ts';
import { useToySuite } from '../support/toy-suite.ts';
import { redisUrl, serverUrl } from '../support/urls.ts';

/**
 * Faults against real processes (issue 7 item 6): workers are `pipeline worker` subprocesses on
 * the toy assets, runs are started with `pipeline materialize … --no-wait`, and the test breaks
 * things for real: SIGKILL, a Redis of its own stopped and restarted, Postgres cut off behind a
 * TCP proxy, SIGTERM.
 */

const TOY_ASSETS = join(REPO_ROOT, 'tests/fixtures/toy-assets.ts');
const UUID = /run ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}): /;
const toy = useToySuite();

type Target = { redisUrl: string; prefix: string; databaseUrl?: string };

function startWorker(target: Target, flags: string[] = [], env: Record<string, string> = {}): CliChild {
  const worker = startCli(['worker', '--concurrency', '1', ...flags], {
    env: {
      DATABASE_URL: target.databaseUrl ?? toy.databaseUrl,
      REDIS_URL: target.redisUrl,
      QUEUE_PREFIX: target.prefix,
      PIPELINE_ASSETS: TOY_ASSETS,
      LOG_LEVEL: 'warn',
      ...env,
    },
  });
  toy.onCleanup(() => worker.stop(5_000));
  return worker;
}

/** A client-side queue on the test's prefix, to look at (and retry) jobs. */
function assetQueue(target: Target): Queue<AssetJobData> {
  const connection = new Redis(target.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue<AssetJobData>(QUEUES.assets, { connection, prefix: target.prefix });
  queue.on('error', () => {});
  toy.onCleanup(async () => {
    await queue.close().catch(() => {});
    connection.disconnect();
  });
  return queue;
}

/** `pipeline materialize SELECTION --partition 2026-10 --no-wait`; returns the run id. */
async function enqueueRun(target: Target, selection: string): Promise<string> {
  const result = await runCli(['materialize', selection, '--partition', '2026-10', '--no-wait'], {
    env: {
      DATABASE_URL: toy.databaseUrl,
      REDIS_URL: target.redisUrl,
      QUEUE_PREFIX: target.prefix,
      PIPELINE_ASSETS: TOY_ASSETS,
    },
    timeoutMs: 60_000,
  });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const runId = result.stdout.match(UUID)?.[1];
  if (!runId) throw new Error(`no run id in:\n${result.stdout}`);
  return runId;
}

type NodeRow = { node: string; status: string; attempts: number; error: string | null };

async function nodesOf(runId: string): Promise<NodeRow[]> {
  return toy.database.sql<NodeRow[]>`
    select case when partition_key = '' then asset_key else asset_key || '[' || partition_key || ']' end as node,
      status, attempts, error
    from run_nodes where run_id = ${runId} order by position`;
}

async function runStatus(runId: string): Promise<string | undefined> {
  const [row] = await toy.database.sql<{ status: string }[]>`select status from runs where id = ${runId}`;
  return row?.status;
}

async function waitForRunEnd(runId: string, workers: CliChild[], timeoutMs = 90_000): Promise<string> {
  return waitFor(
    `run ${runId} to finish`,
    async () => {
      const status = await runStatus(runId);
      return status && ['succeeded', 'failed', 'canceled'].includes(status) ? status : undefined;
    },
    {
      timeoutMs,
      giveUpWhen: () => (workers.some(running) ? undefined : 'every worker exited'),
      detail: async () =>
        `nodes: ${JSON.stringify(await nodesOf(runId))}\n${workers
          .map((w, i) => `worker ${i} stdout:\n${w.stdout()}\nworker ${i} stderr:\n${w.stderr()}`)
          .join('\n')}`,
    },
  );
}

function running(worker: CliChild): boolean {
  return worker.child.exitCode === null && worker.child.signalCode === null;
}

/**
 * Waits until a node's asset is inside its transaction (the toy asset sleeps there after writing
 * its 'start' event, which no one else can see until it commits): the middle of a long asset.
 */
async function waitUntilInsideAsset(runId: string, node: string): Promise<void> {
  await waitFor(
    `${node} to be materializing`,
    async () => {
      const nodes = await nodesOf(runId);
      if (nodes.find((row) => row.node === node)?.status !== 'running') return false;
      const [row] = await toy.database.sql<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity
        where datname = ${toy.database.name} and state = 'idle in transaction' and query like '%toy_events%'`;
      return (row?.n ?? 0) > 0;
    },
    { timeoutMs: 60_000, intervalMs: 50 },
  );
}

/** toy_events of a run per node: how many 'start' and 'end' rows committed. */
async function eventsOf(runId: string): Promise<Record<string, { start: number; end: number }>> {
  const rows = await toy.database.sql<{ node: string; event: 'start' | 'end'; n: number }[]>`
    select case when partition = '' then asset else asset || '[' || partition || ']' end as node,
      event, count(*)::int as n
    from toy_events where run_id = ${runId} group by 1, 2`;
  const events: Record<string, { start: number; end: number }> = {};
  for (const row of rows) {
    events[row.node] ??= { start: 0, end: 0 };
    (events[row.node] as { start: number; end: number })[row.event] = row.n;
  }
  return events;
}

async function toyValues(): Promise<Record<string, number>> {
  const rows = await toy.database.sql<{ node: string; value: string }[]>`
    select case when partition = '' then asset else asset || '[' || partition || ']' end as node, value
    from toy_values`;
  return Object.fromEntries(rows.map((row) => [row.node, Number(row.value)]));
}

async function clearToyTables(): Promise<void> {
  await toy.database.sql`truncate toy_values, toy_events`;
}

describe('worker faults', () => {
  it('a worker SIGKILLed in the middle of a long asset: another worker takes the job up again and the run succeeds once', async () => {
    await clearToyTables();
    const target = { redisUrl: redisUrl(), prefix: toy.prefix('kill') };
    const stall = ['--lock-duration', '2000', '--stalled-interval', '1000'];
    const slow = { TOY_SLEEP_MS: '3000' };
    const queue = assetQueue(target);
    const first = startWorker(target, stall, slow);
    await first.waitForStdout(/worker ready/);
    const runId = await enqueueRun(target, 'source daily');
    await waitUntilInsideAsset(runId, 'source');

    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const sourceJobId = assetJobId({ runId, assetKey: 'source', partitionKey: '' });
    // Nobody holds it now, but Redis still lists it as active: only stall detection can free it.
    expect(await queue.getJobState(sourceJobId)).toBe('active');

    const second = startWorker(target, stall, slow);
    expect(await waitForRunEnd(runId, [first, second])).toBe('succeeded');

    const job = await queue.getJob(sourceJobId);
    expect(job?.stalledCounter).toBe(1);
    expect(await queue.getJobState(sourceJobId)).toBe('completed');
    expect((await nodesOf(runId)).map(({ node, status }) => ({ node, status }))).toEqual([
      { node: 'source', status: 'succeeded' },
      { node: 'daily[2026-10]', status: 'succeeded' },
    ]);
    // The killed attempt's transaction was rolled back: its 'start' never committed, so each node
    // has exactly one start and one end, and one value row.
    expect(await eventsOf(runId)).toEqual({
      source: { start: 1, end: 1 },
      'daily[2026-10]': { start: 1, end: 1 },
    });
    expect(await toyValues()).toEqual({ source: 1, 'daily[2026-10]': 2 });
    const [materialized] = await toy.database.sql<{ n: number }[]>`
      select count(*)::int as n from materializations where run_id = ${runId}`;
    expect(materialized?.n).toBe(2);
  }, 150_000);

  it('Redis stopped and restarted during a run: the worker reconnects and the run finishes', async () => {
    await clearToyTables();
    const dir = mkdtempSync(join(tmpdir(), 'pipeline-redis-'));
    toy.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    let redis: OwnRedis = await startRedisServer(port, dir);
    toy.onCleanup(() => redis.stop());
    const target = { redisUrl: redis.url, prefix: toy.prefix('redis') };
    const worker = startWorker(target, ['--concurrency', '2'], { TOY_SLEEP_MS: '1000' });
    await worker.waitForStdout(/worker ready/);
    const runId = await enqueueRun(target, '*');

    // Mid-run: the first node has committed and the next are on their way.
    await waitFor('the first node to succeed', async () =>
      (await nodesOf(runId)).some((node) => node.status === 'succeeded'),
    );
    await redis.stop();
    await waitFor(
      'the worker to notice Redis is gone',
      () => /redis connection error/.test(worker.stderr()),
      {
        timeoutMs: 30_000,
      },
    );
    expect(await runStatus(runId)).toBe('running');
    redis = await startRedisServer(port, dir);

    expect(await waitForRunEnd(runId, [worker])).toBe('succeeded');
    const nodes = await nodesOf(runId);
    expect(nodes).toHaveLength(7);
    expect(nodes.every((node) => node.status === 'succeeded')).toBe(true);
    const events = await eventsOf(runId);
    expect(Object.keys(events).sort()).toEqual(nodes.map((node) => node.node).sort());
    expect(Object.values(events).every((e) => e.end === 1)).toBe(true);
    expect(worker.child.exitCode).toBeNull(); // still running: it rode out the outage
  }, 150_000);

  describe('Postgres unreachable (behind a proxy the test cuts)', () => {
    let proxy: TcpProxy;
    let proxiedUrl: string;

    beforeAll(async () => {
      const server = new URL(serverUrl());
      proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
      const url = new URL(toy.databaseUrl);
      url.host = `127.0.0.1:${proxy.port}`;
      proxiedUrl = url.toString();
    });

    afterAll(async () => {
      await proxy?.close();
    });

    it('down when the job arrives: both attempts fail naming PostgreSQL, the worker stays up, and retrying the job once it is back completes the run', async () => {
      await clearToyTables();
      const target = { redisUrl: redisUrl(), prefix: toy.prefix('pg-down'), databaseUrl: proxiedUrl };
      const queue = assetQueue(target);
      const worker = startWorker(target);
      await worker.waitForStdout(/worker ready/);
      await proxy.cut(); // the worker's pooled connections drop; new ones are refused

      // The CLI reaches Postgres directly: the run is recorded and its first node enqueued.
      const runId = await enqueueRun(target, 'source daily');
      const jobId = assetJobId({ runId, assetKey: 'source', partitionKey: '' });
      await waitFor(
        `job ${jobId} to fail for good`,
        async () => (await queue.getJobState(jobId)) === 'failed',
        {
          timeoutMs: 60_000,
          detail: () => worker.stderr(),
          giveUpWhen: () => (running(worker) ? undefined : 'the worker exited'),
        },
      );
      const failed = await queue.getJob(jobId);
      // Retried per the asset's policy (toy assets: 2 attempts, 10 ms backoff), each time the same
      // one-line reason: which database, why, what to do.
      expect(failed?.attemptsMade).toBe(2);
      const reason = `PostgreSQL is not reachable at ${redactUrl(proxiedUrl)} (ECONNREFUSED)`;
      expect(failed?.failedReason).toContain(reason);
      expect(failed?.stacktrace?.[0]).toContain(reason);
      expect(worker.stderr()).toContain(reason);
      expect(running(worker)).toBe(true);

      await proxy.restore();
      await failed?.retry();
      expect(await waitForRunEnd(runId, [worker])).toBe('succeeded');
      expect((await nodesOf(runId)).map(({ node, status, error }) => ({ node, status, error }))).toEqual([
        { node: 'source', status: 'succeeded', error: null },
        { node: 'daily[2026-10]', status: 'succeeded', error: null },
      ]);
      expect(await eventsOf(runId)).toEqual({
        source: { start: 1, end: 1 },
        'daily[2026-10]': { start: 1, end: 1 },
      });
      expect(await toyValues()).toEqual({ source: 1, 'daily[2026-10]': 2 });
    }, 150_000);

    it("connection lost in the middle of an asset's transaction: the run still completes, exactly once", async () => {
      // Two workers, short locks: if the one holding the job dies (see the next test), the other
      // takes the job over by stall detection.
      await clearToyTables();
      const target = { redisUrl: redisUrl(), prefix: toy.prefix('pg-cut'), databaseUrl: proxiedUrl };
      const queue = assetQueue(target);
      const stall = ['--lock-duration', '2000', '--stalled-interval', '1000'];
      const slow = { TOY_SLEEP_MS: '1500' };
      const workers = [startWorker(target, stall, slow), startWorker(target, stall, slow)];
      await Promise.all(workers.map((worker) => worker.waitForStdout(/worker ready/)));
      const runId = await enqueueRun(target, 'source daily');
      await waitUntilInsideAsset(runId, 'source');

      await proxy.cut();
      await proxy.restore();

      expect(await waitForRunEnd(runId, workers)).toBe('succeeded');
      // The fault hit the job: its attempt failed on the connection and was retried, or its worker
      // died and the job was taken over after a stall.
      const job = await queue.getJob(assetJobId({ runId, assetKey: 'source', partitionKey: '' }));
      expect(job?.finishedOn).toBeTypeOf('number');
      expect((job?.attemptsMade ?? 0) >= 2 || (job?.stalledCounter ?? 0) >= 1).toBe(true);
      // The interrupted transaction rolled back: one start, one end and one value per node.
      expect(await eventsOf(runId)).toEqual({
        source: { start: 1, end: 1 },
        'daily[2026-10]': { start: 1, end: 1 },
      });
      expect(await toyValues()).toEqual({ source: 1, 'daily[2026-10]': 2 });
    }, 150_000);

    // postgres.js 3.4.9 wrote its ROLLBACK to the dead connection from a setImmediate and threw
    // "Cannot read properties of null (reading 'write')" where nothing could catch it, killing the
    // process (porsager/postgres#1154, #1208). patches/ carries the guard (applied by npm ci).
    it('a worker itself survives losing its connection in the middle of a transaction', async () => {
      await clearToyTables();
      const target = { redisUrl: redisUrl(), prefix: toy.prefix('pg-crash'), databaseUrl: proxiedUrl };
      const queue = assetQueue(target);
      const worker = startWorker(target, [], { TOY_SLEEP_MS: '1500' });
      await worker.waitForStdout(/worker ready/);
      const runId = await enqueueRun(target, 'source');
      await waitUntilInsideAsset(runId, 'source');

      await proxy.cut();
      await proxy.restore();

      expect(await waitForRunEnd(runId, [worker], 60_000)).toBe('succeeded');
      expect(running(worker)).toBe(true);
      const job = await queue.getJob(assetJobId({ runId, assetKey: 'source', partitionKey: '' }));
      expect(job?.attemptsMade).toBe(2);
      expect(job?.stacktrace?.[0]).toMatch(/CONNECTION_CLOSED|PostgreSQL is not reachable/);
      expect(await eventsOf(runId)).toEqual({ source: { start: 1, end: 1 } });
    }, 150_000);
  });

  it('SIGTERM: the worker finishes its job in flight, takes no other and exits 0; no job is left active', async () => {
    await clearToyTables();
    const target = { redisUrl: redisUrl(), prefix: toy.prefix('term') };
    const queue = assetQueue(target);
    const worker = startWorker(target, [], { TOY_SLEEP_MS: '2000' });
    await worker.waitForStdout(/worker ready/);
    const runId = await enqueueRun(target, 'source daily');
    await waitUntilInsideAsset(runId, 'source');

    worker.child.kill('SIGTERM');
    const exit = await worker.exited;
    expect(exit, worker.stderr()).toEqual({ code: 0, signal: null });
    expect(worker.stdout()).toContain('stopping (SIGTERM)');
    expect(worker.stdout()).toContain('worker stopped');
    expect(worker.stderr()).not.toMatch(/error/i);

    // The job in flight was finished, not abandoned; the next node waits for another worker.
    expect(await queue.getActiveCount()).toBe(0);
    expect(await queue.getJobState(assetJobId({ runId, assetKey: 'source', partitionKey: '' }))).toBe(
      'completed',
    );
    expect(await queue.getJobState(assetJobId({ runId, assetKey: 'daily', partitionKey: '2026-10' }))).toBe(
      'waiting',
    );
    expect((await nodesOf(runId)).map(({ node, status }) => ({ node, status }))).toEqual([
      { node: 'source', status: 'succeeded' },
      { node: 'daily[2026-10]', status: 'queued' },
    ]);
    expect(await runStatus(runId)).toBe('running');

    const next = startWorker(target);
    expect(await waitForRunEnd(runId, [worker, next])).toBe('succeeded');
    expect(await eventsOf(runId)).toEqual({
      source: { start: 1, end: 1 },
      'daily[2026-10]': { start: 1, end: 1 },
    });
  }, 150_000);
});
