import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TOY_TABLES_SQL } from '../fixtures/toy-assets.ts';
import { type CliChild, type CliResult, REPO_ROOT, runCli, startCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { redisUrl, serverUrl, withDatabase } from '../support/urls.ts';

/**
 * BullMQ execution end to end: real `pipeline worker` processes and the `pipeline materialize`
 * CLI as subprocesses, on this file's own database and queue prefix in the shared Redis.
 */

const TOY_ASSETS = join(REPO_ROOT, 'tests/fixtures/toy-assets.ts');
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const PREFIX = `test-${randomUUID()}`;
const TEST_TIMEOUT = 180_000;

let database: TestDatabase;
let databaseUrl: string;
let connection: Redis;
let queue: Queue;
const scratch = mkdtempSync(join(tmpdir(), 'pipeline-bullmq-workers-'));

beforeAll(async () => {
  database = await createTestDatabase();
  databaseUrl = withDatabase(serverUrl(), database.name);
  await database.sql.unsafe(TOY_TABLES_SQL);
  connection = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  // The same queue the workers consume, opened by the test to inspect, retry and add jobs.
  queue = new Queue('assets', { connection, prefix: PREFIX });
});

/** Every process a test started; afterEach stops whatever is still running. */
const processes: CliChild[] = [];

afterEach(async () => {
  await Promise.all(processes.splice(0).map((process_) => process_.stop(20_000)));
});

afterAll(async () => {
  await queue?.close();
  if (connection) {
    // Leave nothing of this file's prefix behind in the shared Redis.
    let cursor = '0';
    do {
      const [next, keys] = await connection.scan(cursor, 'MATCH', `${PREFIX}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await connection.del(...keys);
    } while (cursor !== '0');
    connection.disconnect();
  }
  await database?.drop();
  rmSync(scratch, { recursive: true, force: true });
});

/** Polls `condition` until it returns something truthy; fails with `what` when time runs out. */
async function waitFor<T>(
  condition: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs: number,
  what = 'a condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

function cliEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  return {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl(),
    QUEUE_PREFIX: PREFIX,
    PIPELINE_ASSETS: TOY_ASSETS,
    LOG_LEVEL: undefined,
    ...extra,
  };
}

/** A `pipeline worker` with the toy assets' behaviour in `env`; resolves once it takes jobs. */
async function startWorker(env: Record<string, string> = {}, args: string[] = []): Promise<CliChild> {
  const worker = startCli(['worker', '--concurrency', '2', ...args], {
    env: cliEnv({ LOG_LEVEL: 'info', ...env }),
  });
  processes.push(worker);
  await worker.waitForStdout(/^worker ready: 7 assets, queues '.+' on .+, concurrency \d+/m);
  return worker;
}

/** `pipeline materialize` through the workers, waiting for the run. */
function materialize(args: string[], timeoutMs = 150_000): Promise<CliResult> {
  return runCli(['materialize', ...args], { env: cliEnv(), timeoutMs });
}

function runIdOf(stdout: string): string {
  const match = stdout.match(new RegExp(`^run (${UUID}): \\d+ nodes? queued`, 'm'));
  if (!match?.[1]) throw new Error(`no run id in:\n${stdout}`);
  return match[1];
}

type WorkerLine = { msg: string; jobId?: string; attempt?: number; attempts?: number };

/** The JSON log lines a worker printed for jobs of one run (job ids start with the run id). */
function jobLines(worker: CliChild, runId: string): WorkerLine[] {
  return worker
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as WorkerLine)
    .filter((line) => line.jobId?.startsWith(`${runId}.`));
}

/** The nodes whose job this worker completed: its "<node> succeeded" lines. */
function nodesSucceededBy(worker: CliChild, runId: string): string[] {
  return jobLines(worker, runId)
    .map((line) => line.msg.match(/^(\S+) succeeded$/)?.[1])
    .filter((node): node is string => node !== undefined);
}

type NodeRow = {
  node: string;
  status: string;
  attempts: number;
  upstream: string[];
  error: string | null;
};

async function runNodes(runId: string): Promise<NodeRow[]> {
  return database.sql<NodeRow[]>`
    select case when partition_key = '' then asset_key else asset_key || '[' || partition_key || ']' end as node,
      status, attempts, upstream, error
    from run_nodes where run_id = ${runId} order by position`;
}

async function runStatus(runId: string): Promise<string | undefined> {
  const [row] = await database.sql<{ status: string }[]>`select status from runs where id = ${runId}`;
  return row?.status;
}

function waitForRun(runId: string, status: string, timeoutMs = 120_000): Promise<true> {
  return waitFor(async () => (await runStatus(runId)) === status, timeoutMs, `run ${runId} to be ${status}`);
}

/** Per node of the run: how many 'start' and 'end' events the toy assets logged. */
async function eventCounts(runId: string): Promise<Record<string, { starts: number; ends: number }>> {
  const rows = await database.sql<{ node: string; starts: number; ends: number }[]>`
    select case when partition = '' then asset else asset || '[' || partition || ']' end as node,
      count(*) filter (where event = 'start')::int as starts,
      count(*) filter (where event = 'end')::int as ends
    from toy_events where run_id = ${runId} group by 1`;
  return Object.fromEntries(rows.map((row) => [row.node, { starts: row.starts, ends: row.ends }]));
}

async function toyValues(sql = database.sql): Promise<Record<string, number>> {
  const rows = await sql<{ node: string; value: string }[]>`
    select case when partition = '' then asset else asset || '[' || partition || ']' end as node, value
    from toy_values order by 1`;
  return Object.fromEntries(rows.map((row) => [row.node, Number(row.value)]));
}

/** The failed job of a run's node, found the way Bull Board shows it: by its name, the node id. */
async function failedJob(runId: string, node: string): Promise<Job> {
  return waitFor(
    async () =>
      (await queue.getFailed()).find((job) => job.name === node && job.data?.runId === runId) ?? undefined,
    30_000,
    `the failed job ${node} of run ${runId}`,
  );
}

const TWO_MONTHS = (['daily', 'left', 'right', 'rolling', 'joined'] as const).flatMap((asset) => [
  `${asset}[2026-09]`,
  `${asset}[2026-10]`,
]);
const ALL_NODES_2026 = ['source', ...TWO_MONTHS, 'summary'].sort();

describe('pipeline worker × 2 and materialize through BullMQ', () => {
  it(
    "runs '*' over two months on two workers: exactly once, dependencies first, in parallel, same values as in-process",
    async () => {
      // The whole table is compared with an in-process run's below (summary sums every month).
      await database.sql`truncate toy_values`;
      const workers = await Promise.all([
        startWorker({ TOY_SLEEP_MS: '300' }),
        startWorker({ TOY_SLEEP_MS: '300' }),
      ]);
      await waitFor(async () => (await queue.getWorkers()).length >= 2, 30_000, 'two workers in Redis');

      const result = await materialize(['*', '--from', '2026-09', '--to', '2026-10']);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const runId = runIdOf(result.stdout);
      const lines = result.stdout.trimEnd().split('\n');
      expect(lines[0]).toBe(`run ${runId}: 12 nodes queued (selection '*', partitions 2026-09..2026-10)`);
      const shown = lines.filter((line) => line.startsWith('  ✓ ')).map((line) => line.split(/ {2}/)[1]);
      expect(shown.map((s) => s?.slice(2)).sort()).toEqual(ALL_NODES_2026);
      expect(result.stdout).not.toMatch(/[✗↻] /);
      expect(lines.at(-1)).toMatch(
        new RegExp(`^run ${runId} succeeded: 12 succeeded, 0 failed in [\\d.]+ m?s$`),
      );

      // The run and each of its nodes succeeded, each at the first attempt.
      expect(await runStatus(runId)).toBe('succeeded');
      const nodes = await runNodes(runId);
      expect(nodes.map((n) => n.node).sort()).toEqual(ALL_NODES_2026);
      for (const node of nodes) expect(node, node.node).toMatchObject({ status: 'succeeded', attempts: 1 });

      // Exactly once: every node of the run started and ended exactly once.
      const counts = await eventCounts(runId);
      expect(Object.keys(counts).sort()).toEqual(ALL_NODES_2026);
      for (const [node, count] of Object.entries(counts)) expect(count, node).toEqual({ starts: 1, ends: 1 });

      // Dependencies first: each node started after every one of its upstream nodes ended.
      const edges = await database.sql<{ node: string; upstream: string; ordered: boolean }[]>`
        with ev as (
          select case when partition = '' then asset else asset || '[' || partition || ']' end as node, event, at
          from toy_events where run_id = ${runId})
        select n.node, u.id as upstream, s.at > e.at as ordered
        from (select case when partition_key = '' then asset_key else asset_key || '[' || partition_key || ']' end as node, upstream
              from run_nodes where run_id = ${runId}) n
        cross join unnest(n.upstream) as u(id)
        join ev s on s.node = n.node and s.event = 'start'
        join ev e on e.node = u.id and e.event = 'end'`;
      expect(edges).toHaveLength(nodes.reduce((sum, n) => sum + n.upstream.length, 0));
      // source → daily ×2, daily → left, right ×2 each, daily → rolling 1 + 2 (window), left/right → joined ×2, joined → summary ×2
      expect(edges).toHaveLength(15);
      expect(edges.filter((edge) => !edge.ordered)).toEqual([]);

      // The diamond daily → left, right → joined: joined ran once per month, after both branches.
      for (const month of ['2026-09', '2026-10']) {
        const joined = nodes.find((n) => n.node === `joined[${month}]`);
        expect(joined?.upstream.sort()).toEqual([`left[${month}]`, `right[${month}]`]);
        expect(
          edges.filter((edge) => edge.node === `joined[${month}]` && edge.ordered).map((e) => e.upstream),
        ).toHaveLength(2);
      }

      // Parallelism: at least two nodes were materializing at the same moment.
      const [overlap] = await database.sql<{ pairs: number }[]>`
        with spans as (
          select asset, partition, min(at) filter (where event = 'start') as s, max(at) filter (where event = 'end') as e
          from toy_events where run_id = ${runId} group by asset, partition)
        select count(*)::int as pairs from spans a join spans b
          on (a.asset, a.partition) < (b.asset, b.partition) and a.s < b.e and b.s < a.e`;
      expect(overlap?.pairs).toBeGreaterThanOrEqual(1);

      // Both worker processes did part of the run, and no job completed on both.
      const byWorker = workers.map((worker) => nodesSucceededBy(worker, runId));
      for (const done of byWorker) expect(done.length).toBeGreaterThanOrEqual(1);
      expect(byWorker.flat().sort()).toEqual(ALL_NODES_2026);

      // The same values as an in-process run of the same selection, in a database of its own.
      const reference = await createTestDatabase();
      try {
        await reference.sql.unsafe(TOY_TABLES_SQL);
        const inProcess = await runCli(
          ['materialize', '*', '--from', '2026-09', '--to', '2026-10', '--in-process'],
          {
            env: { ...cliEnv(), DATABASE_URL: withDatabase(serverUrl(), reference.name) },
            timeoutMs: 120_000,
          },
        );
        expect(inProcess.code, inProcess.stderr).toBe(0);
        const expected = await toyValues(reference.sql);
        expect(Object.keys(expected).sort()).toEqual(ALL_NODES_2026);
        expect(await toyValues()).toEqual(expected);
      } finally {
        await reference.drop();
      }
      // … which are the hand-computed ones: value = 1 + the sum of the node's upstream values.
      expect(await toyValues()).toEqual({
        source: 1,
        'daily[2026-09]': 2,
        'daily[2026-10]': 2,
        'left[2026-09]': 3,
        'left[2026-10]': 3,
        'right[2026-09]': 3,
        'right[2026-10]': 3,
        'rolling[2026-09]': 3, // window of 3 months, only 2026-09 in it
        'rolling[2026-10]': 5, // 2026-09 and 2026-10
        'joined[2026-09]': 7,
        'joined[2026-10]': 7,
        summary: 15,
      });
    },
    TEST_TIMEOUT,
  );

  it(
    'a node that fails after its retries fails the run; job.retry() after the fix resumes it to succeeded',
    async () => {
      const cause = join(scratch, 'left-is-broken');
      writeFileSync(cause, 'remove me to fix left[2025-03]\n');
      const worker = await startWorker({ TOY_FAIL: 'left[2025-03]', TOY_FAIL_WHILE: cause });

      const result = await materialize(['*', '--partition', '2025-03']);
      expect(result.code).toBe(1);
      const runId = runIdOf(result.stdout);
      expect(result.stdout).toMatch(/^ {2}✗ left\[2025-03\] {2}\d+ ms {2}toy failure of left\[2025-03\]$/m);
      expect(result.stdout.trimEnd().split('\n').at(-1)).toMatch(
        new RegExp(`^run ${runId} failed: 4 succeeded, 1 failed, 2 pending in [\\d.]+ m?s$`),
      );
      expect(await runStatus(runId)).toBe('failed');
      const failed = Object.fromEntries((await runNodes(runId)).map((n) => [n.node, n]));
      expect(failed['left[2025-03]']).toMatchObject({
        status: 'failed',
        attempts: 2,
        error: 'toy failure of left[2025-03]',
      });
      // Its downstream waits; the independent branches went through.
      expect(failed['joined[2025-03]']?.status).toBe('pending');
      expect(failed.summary?.status).toBe('pending');
      for (const node of ['source', 'daily[2025-03]', 'right[2025-03]', 'rolling[2025-03]']) {
        expect(failed[node]?.status, node).toBe('succeeded');
      }
      // Both attempts rolled back, their events included.
      expect(await eventCounts(runId)).not.toHaveProperty('left[2025-03]');
      expect(await toyValues()).not.toHaveProperty('left[2025-03]');

      // Bull Board's Retry: the failed job, found by its name, is retried once the cause is gone.
      const job = await failedJob(runId, 'left[2025-03]');
      expect(job.attemptsMade).toBe(2);
      expect(job.failedReason).toBe('toy failure of left[2025-03]');
      rmSync(cause);
      await job.retry();

      await waitForRun(runId, 'succeeded');
      const nodes = await runNodes(runId);
      expect(nodes).toHaveLength(7);
      for (const node of nodes) expect(node.status, node.node).toBe('succeeded');
      expect(nodes.find((n) => n.node === 'left[2025-03]')?.error).toBeNull();
      const counts = await eventCounts(runId);
      expect(counts).toEqual({
        source: { starts: 1, ends: 1 },
        'daily[2025-03]': { starts: 1, ends: 1 },
        'left[2025-03]': { starts: 1, ends: 1 },
        'right[2025-03]': { starts: 1, ends: 1 },
        'rolling[2025-03]': { starts: 1, ends: 1 },
        'joined[2025-03]': { starts: 1, ends: 1 },
        summary: { starts: 1, ends: 1 },
      });
      expect(await queue.getJobState(job.id as string)).toBe('completed');
      expect(nodesSucceededBy(worker, runId)).toContain('left[2025-03]');

      const values = await toyValues();
      expect(values['left[2025-03]']).toBe(3);
      expect(values['joined[2025-03]']).toBe(7); // 1 + left 3 + right 3
      const joinedTotal = Object.entries(values)
        .filter(([node]) => node.startsWith('joined['))
        .reduce((sum, [, value]) => sum + value, 0);
      expect(values.summary).toBe(1 + joinedTotal);
    },
    TEST_TIMEOUT,
  );

  it(
    'an input error fails the job at the first attempt, with file:line in the job and the node',
    async () => {
      await startWorker({ TOY_INPUT_ERROR: 'left[2025-06]' });
      // Its upstream never ran for that month: the run brings it along (refused otherwise).
      const result = await materialize(['left', '--partition', '2025-06', '--upstream', 'missing']);
      expect(result.code).toBe(1);
      const runId = runIdOf(result.stdout);
      expect(result.stdout).not.toContain('↻');
      const reason = 'toy/left[2025-06].csv:2: value: not a number';
      expect(result.stdout).toContain(`✗ left[2025-06]`);
      expect(result.stdout).toContain(reason);

      const job = await failedJob(runId, 'left[2025-06]');
      expect(job.opts.attempts).toBe(2);
      expect(job.attemptsMade).toBe(1);
      expect(job.failedReason).toContain('toy/left[2025-06].csv:2');
      expect(job.failedReason).toBe(reason);
      expect((await runNodes(runId)).find((node) => node.node === 'left[2025-06]')).toEqual({
        node: 'left[2025-06]',
        status: 'failed',
        attempts: 1,
        upstream: ['daily[2025-06]'],
        error: reason,
      });
      expect(await runStatus(runId)).toBe('failed');
      // The attempt's transaction, its toy_events rows included, was rolled back.
      expect(Object.keys(await eventCounts(runId))).not.toContain('left[2025-06]');
    },
    TEST_TIMEOUT,
  );

  it(
    '--no-wait prints the run id and returns while a worker finishes the run',
    async () => {
      await startWorker({ TOY_SLEEP_MS: '600' });
      const result = await runCli(['materialize', '*', '--partition', '2025-09', '--no-wait'], {
        env: cliEnv(),
        timeoutMs: 60_000,
      });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const runId = runIdOf(result.stdout);
      expect(result.stdout).toBe(
        `run ${runId}: 7 nodes queued (selection '*', partitions 2025-09..2025-09)\n`,
      );
      // Five levels of 600 ms each: the CLI is gone long before the run can be done.
      expect(await runStatus(runId)).not.toBe('succeeded');

      await waitForRun(runId, 'succeeded');
      const nodes = await runNodes(runId);
      expect(nodes).toHaveLength(7);
      for (const node of nodes) expect(node.status, node.node).toBe('succeeded');
      for (const [node, count] of Object.entries(await eventCounts(runId))) {
        expect(count, node).toEqual({ starts: 1, ends: 1 });
      }
      expect((await toyValues())['joined[2025-09]']).toBe(7);
    },
    TEST_TIMEOUT,
  );

  it(
    'Ctrl-C while the CLI waits stops waiting (exit 130) and the run completes on the worker',
    async () => {
      await startWorker({ TOY_SLEEP_MS: '600' });
      const cli = startCli(['materialize', '*', '--partition', '2025-12'], { env: cliEnv() });
      processes.push(cli);
      const [, runId] = await cli.waitForStdout(new RegExp(`^run (${UUID}): 7 nodes queued`, 'm'));
      // Interrupt once the run is surely under way on the worker.
      await cli.waitForStdout(/^ {2}✓ source /m);
      cli.child.kill('SIGINT');
      const exit = await cli.exited;
      expect(exit.code).toBe(130);
      expect(cli.stdout()).toContain(
        `stopped waiting; the run goes on: \`npx pipeline run ${runId?.slice(0, 8)}\``,
      );
      expect(cli.stdout()).not.toMatch(/ succeeded: \d+ succeeded/);
      expect(await runStatus(runId as string)).not.toBe('succeeded');

      await waitForRun(runId as string, 'succeeded');
      const counts = await eventCounts(runId as string);
      expect(Object.keys(counts)).toHaveLength(7);
      for (const [node, count] of Object.entries(counts)) expect(count, node).toEqual({ starts: 1, ends: 1 });
    },
    TEST_TIMEOUT,
  );

  it(
    'SIGTERM in the middle of a job: the worker finishes it, then exits 0',
    async () => {
      const worker = await startWorker({ TOY_SLEEP_MS: '1500' }, ['--concurrency', '1']);
      const queued = await runCli(['materialize', 'daily', '--partition', '2024-03', '--no-wait'], {
        env: cliEnv(),
      });
      expect(queued.code).toBe(0);
      const runId = runIdOf(queued.stdout);
      // The worker has taken the job and the asset is inside its 1.5 s transaction (nothing of it
      // committed yet) when the worker is told to stop.
      await worker.waitForStdout(/"msg":"daily\[2024-03\]: attempt 1 of 2"/, 30_000);
      await waitFor(
        async () => (await runNodes(runId))[0]?.status === 'running',
        30_000,
        'daily[2024-03] to be running',
      );
      expect(await eventCounts(runId)).toEqual({});
      expect(await queue.getJobState(`${runId}.daily.2024-03`)).toBe('active');
      worker.child.kill('SIGTERM');
      const exit = await worker.exited;
      expect(exit).toEqual({ code: 0, signal: null });
      const stdout = worker.stdout();
      // In this order: the signal is acknowledged, the job finishes, the worker stops.
      const stopping = stdout.indexOf('stopping (SIGTERM): finishing the current jobs …');
      const succeeded = stdout.indexOf('"msg":"daily[2024-03] succeeded"');
      expect(stopping).toBeGreaterThan(-1);
      expect(succeeded).toBeGreaterThan(stopping);
      expect(stdout.indexOf('worker stopped')).toBeGreaterThan(succeeded);
      expect(stdout.trimEnd().split('\n').at(-1)).toBe('worker stopped');

      expect(await runNodes(runId)).toEqual([
        { node: 'daily[2024-03]', status: 'succeeded', attempts: 1, upstream: [], error: null },
      ]);
      expect(await runStatus(runId)).toBe('succeeded');
      expect(await eventCounts(runId)).toEqual({ 'daily[2024-03]': { starts: 1, ends: 1 } });
      expect(await queue.getJobState(`${runId}.daily.2024-03`)).toBe('completed');
    },
    TEST_TIMEOUT,
  );

  it(
    "the job carries the asset's log lines, written when it ends",
    async () => {
      await startWorker();
      const result = await materialize(['joined', '--partition', '2024-06', '--upstream', 'missing']);
      expect(result.code).toBe(0);
      const runId = runIdOf(result.stdout);
      const jobId = `${runId}.joined.2024-06`;
      const job = await queue.getJob(jobId);
      expect(job?.name).toBe('joined[2024-06]');
      expect(job?.returnvalue).toEqual({ rowCount: 1 });
      const { logs, count } = await queue.getJobLogs(jobId);
      expect(count).toBe(logs.length);
      // Lines are "<time> <message> <fields>": the attempt, the asset's own line, the success.
      expect(logs).toContainEqual(expect.stringMatching(/ joined\[2024-06\]: attempt 1 of 2 /));
      expect(logs).toContainEqual(
        expect.stringMatching(
          // Its value is 1 + its upstream's values (left and right, run before it in the same run).
          / joined\[2024-06\] wrote 7 \{.*"asset":"joined","partition":"2024-06".*"value":7/,
        ),
      );
      expect(logs).toContainEqual(expect.stringMatching(/ joined\[2024-06\] succeeded \{.*"rowCount":1/));
      for (const line of logs) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /);
    },
    TEST_TIMEOUT,
  );

  it(
    "a failed job's reason and stack traces (Bull Board's job view) name no absolute path of this machine",
    async () => {
      await startWorker({ TOY_FAIL: 'left[2024-09]', TOY_INPUT_ERROR: 'right[2024-09]' });
      const result = await materialize(['left,right', '--partition', '2024-09', '--upstream', 'missing']);
      expect(result.code).toBe(1);
      const runId = runIdOf(result.stdout);
      const retried = await failedJob(runId, 'left[2024-09]'); // a retryable error, then the last try
      const input = await failedJob(runId, 'right[2024-09]'); // an input error, not retried
      expect(retried.stacktrace).toHaveLength(2);
      expect(input.stacktrace).toHaveLength(1);
      expect(retried.failedReason).toBe('toy failure of left[2024-09]');
      expect(input.failedReason).toBe('toy/right[2024-09].csv:2: value: not a number');
      // A frame with an absolute path: `(/…/file.ts:1:2)`, `at /…:1:2`, `file:///…:1:2`.
      const absoluteFrame = /(?:^|[\s(])(?:file:\/\/)?\/[^\s():]+:\d+:\d+/m;
      for (const job of [retried, input]) {
        const stacks = job.stacktrace ?? [];
        for (const text of [job.failedReason, ...stacks]) {
          for (const machinePath of [REPO_ROOT, REPO_ROOT.replace(/\/$/, ''), process.cwd(), scratch]) {
            expect(text).not.toContain(machinePath);
          }
          expect(text).not.toMatch(absoluteFrame);
        }
        // The frames are still there, relative to the project root.
        expect(stacks.at(-1)).toMatch(/^\s+at .*\(?workers\/asset-jobs\.ts:\d+:\d+\)?$/m);
        // So are the stacks in the job's log lines (the asset's "materialization failed" warning).
        const { logs } = await queue.getJobLogs(job.id as string);
        expect(logs).toContainEqual(expect.stringContaining('materialization failed'));
        for (const line of logs) expect(line).not.toContain(REPO_ROOT);
      }
    },
    TEST_TIMEOUT,
  );

  it(
    'a job with invalid data added by hand fails as unrecoverable, naming the invalid field',
    async () => {
      await startWorker();
      const added = await queue.add('hand-made', { runId: 'x' }, { attempts: 3, backoff: 10 });
      const state = await waitFor(
        async () => {
          const current = await queue.getJobState(added.id as string);
          return current === 'failed' || current === 'completed' ? current : undefined;
        },
        60_000,
        'the hand-made job to finish',
      );
      expect(state).toBe('failed');
      const job = await queue.getJob(added.id as string);
      expect(job?.attemptsMade).toBe(1);
      expect(job?.failedReason).toMatch(/^job hand-made carries invalid data: /);
      expect(job?.failedReason).toContain('runId');
      expect(job?.failedReason).toContain('assetKey');
      expect(job?.failedReason).toContain('partitionKey');
      expect(job?.stacktrace?.join('\n') ?? '').toContain('UnrecoverableError');
    },
    TEST_TIMEOUT,
  );
});
