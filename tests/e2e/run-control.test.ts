import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { type AssetJobData, assetJobId, QUEUES } from '../../queues/catalog.ts';
import { type CliChild, type CliResult, REPO_ROOT, runCli, startCli } from '../support/cli.ts';
import { freePort, startRedisServer, waitFor } from '../support/processes.ts';
import { useToySuite } from '../support/toy-suite.ts';
import { redisUrl } from '../support/urls.ts';

/**
 * Run control under the one node protocol, end to end: the real `pipeline` CLI and `pipeline
 * worker` processes as subprocesses, on this file's own database and a queue prefix per test.
 * The same failing graph in both executors, `pipeline retry` after the cause is fixed, `pipeline
 * cancel`, a CLI killed mid-run (its lease runs out: "executor lost"), and workers killed in the
 * middle of a node's transaction or between its commit and the job's completion in Redis.
 */

const TOY_ASSETS = join(REPO_ROOT, 'tests/fixtures/toy-assets.ts');
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const HEADER = new RegExp(`^run (${UUID}): \\d+ nodes? `, 'm');
const MONTH = '2026-10';
const ALL_NODES = [
  'source',
  `daily[${MONTH}]`,
  `left[${MONTH}]`,
  `right[${MONTH}]`,
  `rolling[${MONTH}]`,
  `joined[${MONTH}]`,
  'summary',
];
/** What each toy node writes when '*' runs for one month from empty tables (1 + its upstream's values). */
const VALUES_OF_ONE_MONTH = {
  source: 1,
  [`daily[${MONTH}]`]: 2,
  [`left[${MONTH}]`]: 3,
  [`right[${MONTH}]`]: 3,
  [`rolling[${MONTH}]`]: 3,
  [`joined[${MONTH}]`]: 7,
  summary: 8,
};
const ENDED = ['succeeded', 'failed', 'canceled'];
const toy = useToySuite();
const scratch = mkdtempSync(join(tmpdir(), 'pipeline-run-control-'));
/** The prefix of commands given no queue of a test's own (a few open the queues all the same). */
const NO_QUEUES = toy.prefix('unused');

// toy_values has no run: every test starts from empty toy tables, so what is there is its own.
beforeEach(async () => {
  await toy.database.sql`truncate toy_values, toy_events`;
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

type Target = { redisUrl: string; prefix: string };

/** A queue prefix of the test's own on the shared Redis (each test sees only its own jobs). */
function sharedRedis(name: string): Target {
  return { redisUrl: redisUrl(), prefix: toy.prefix(name) };
}

function cliEnv(target?: Target, extra: Record<string, string> = {}): Record<string, string | undefined> {
  return {
    DATABASE_URL: toy.databaseUrl,
    PIPELINE_ASSETS: TOY_ASSETS,
    REDIS_URL: target?.redisUrl ?? redisUrl(),
    QUEUE_PREFIX: target?.prefix ?? NO_QUEUES,
    LOG_LEVEL: undefined,
    ...extra,
  };
}

/** The CLI against this file's database and the toy assets. */
function pipeline(
  args: string[],
  options: { target?: Target; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  return runCli(args, { env: cliEnv(options.target, options.env), timeoutMs: options.timeoutMs ?? 90_000 });
}

/** A long-running `pipeline …` (a worker, a materialize to kill), stopped after the test. */
function startPipeline(
  args: string[],
  target: Target | undefined,
  env: Record<string, string> = {},
): CliChild {
  const child = startCli(args, { env: cliEnv(target, env) });
  toy.onCleanup(() => child.stop(5_000));
  return child;
}

/** A `pipeline worker` (concurrency 1 unless `flags` say otherwise), ready to take jobs. */
async function startWorker(target: Target, flags: string[] = [], env: Record<string, string> = {}) {
  const worker = startPipeline(['worker', '--concurrency', '1', ...flags], target, {
    LOG_LEVEL: 'info',
    ...env,
  });
  await worker.waitForStdout(/^worker ready: 7 assets/m);
  return worker;
}

function running(child: CliChild): boolean {
  return child.child.exitCode === null && child.child.signalCode === null;
}

/** A client-side queue on the target, to look at jobs. */
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

function runIdOf(stdout: string): string {
  const id = stdout.match(HEADER)?.[1];
  if (!id) throw new Error(`no run header in:\n${stdout}`);
  return id;
}

const short = (runId: string) => runId.slice(0, 8);

/** `pipeline materialize SELECTION --partition MONTH --no-wait` on the workers; the run id. */
async function enqueueRun(target: Target, selection: string): Promise<string> {
  const result = await pipeline(['materialize', selection, '--partition', MONTH, '--no-wait'], { target });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return runIdOf(result.stdout);
}

type NodeJson = {
  assetKey: string;
  partitionKey: string;
  status: string;
  attempts: number;
  error: string | null;
};
type RunJson = {
  run: { id: string; status: string; error: string | null; executor: string; leaseUntil: string | null };
  nodes: NodeJson[];
};

const nodeId = (node: { assetKey: string; partitionKey: string }) =>
  node.partitionKey ? `${node.assetKey}[${node.partitionKey}]` : node.assetKey;

/** `pipeline run ID --json`, as a user (or a script) reads a run. */
async function showRun(runId: string): Promise<RunJson> {
  const result = await pipeline(['run', short(runId), '--json']);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as RunJson;
}

function statusesOf(detail: RunJson): Record<string, string> {
  return Object.fromEntries(detail.nodes.map((node) => [nodeId(node), node.status]));
}

type NodeRow = { node: string; status: string; attempts: number; error: string | null };

async function nodesOf(runId: string): Promise<NodeRow[]> {
  return toy.database.sql<NodeRow[]>`
    select case when partition_key = '' then asset_key else asset_key || '[' || partition_key || ']' end as node,
      status, attempts, error
    from run_nodes where run_id = ${runId} order by position`;
}

async function nodeStatuses(runId: string): Promise<Record<string, string>> {
  return Object.fromEntries((await nodesOf(runId)).map((row) => [row.node, row.status]));
}

type RunRow = { status: string; error: string | null; lease_valid: boolean | null; lease_until: Date | null };

async function runRow(runId: string): Promise<RunRow | undefined> {
  const [row] = await toy.database.sql<RunRow[]>`
    select status, error, lease_until, lease_until > now() as lease_valid from runs where id = ${runId}`;
  return row;
}

async function runCount(): Promise<number> {
  const [row] = await toy.database.sql<{ n: number }[]>`select count(*)::int as n from runs`;
  return row?.n ?? 0;
}

/** Every attempt recorded for the run's nodes, in order: "node#attempt status: error". */
async function attemptsOf(runId: string): Promise<Record<string, string[]>> {
  const rows = await toy.database.sql<
    { node: string; attempt: number; status: string; error: string | null }[]
  >`
    select case when partition_key = '' then asset_key else asset_key || '[' || partition_key || ']' end as node,
      attempt, status, error
    from node_attempts where run_id = ${runId} order by node, attempt`;
  const attempts: Record<string, string[]> = {};
  for (const row of rows) {
    attempts[row.node] ??= [];
    attempts[row.node]?.push(`#${row.attempt} ${row.status}${row.error ? `: ${row.error}` : ''}`);
  }
  return attempts;
}

/** toy_events of a run per node: how many 'start' and 'end' rows committed. */
async function eventsOf(runId: string): Promise<Record<string, { start: number; end: number }>> {
  const rows = await toy.database.sql<{ node: string; event: 'start' | 'end'; n: number }[]>`
    select case when partition = '' then asset else asset || '[' || partition || ']' end as node,
      event, count(*)::int as n
    from toy_events where run_id = ${runId} group by 1, 2`;
  const events: Record<string, { start: number; end: number }> = {};
  for (const row of rows) {
    const counts = events[row.node] ?? { start: 0, end: 0 };
    counts[row.event] = row.n;
    events[row.node] = counts;
  }
  return events;
}

const once = (nodes: readonly string[]) =>
  Object.fromEntries(nodes.map((node) => [node, { start: 1, end: 1 }]));

async function toyValues(): Promise<Record<string, number>> {
  const rows = await toy.database.sql<{ node: string; value: string }[]>`
    select case when partition = '' then asset else asset || '[' || partition || ']' end as node, value
    from toy_values`;
  return Object.fromEntries(rows.map((row) => [row.node, Number(row.value)]));
}

/**
 * Waits until `count` nodes of the run are `running` with their assets inside their transactions
 * (a toy asset sleeps there after writing its 'start' event, which nobody sees before it commits).
 */
async function waitUntilInsideAssets(runId: string, count: number, extra?: (nodes: NodeRow[]) => boolean) {
  return waitFor(
    `${count} node(s) of run ${short(runId)} inside their transactions`,
    async () => {
      const nodes = await nodesOf(runId);
      if (nodes.filter((node) => node.status === 'running').length !== count) return false;
      if (extra && !extra(nodes)) return false;
      const [row] = await toy.database.sql<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity
        where datname = ${toy.database.name} and state = 'idle in transaction' and query like '%toy_events%'`;
      return row?.n === count ? nodes : false;
    },
    { timeoutMs: 60_000, intervalMs: 25, detail: async () => JSON.stringify(await nodesOf(runId)) },
  );
}

async function waitForRunEnd(runId: string, workers: CliChild[] = [], timeoutMs = 60_000): Promise<string> {
  return waitFor(
    `run ${short(runId)} to end`,
    async () => {
      const status = (await runRow(runId))?.status;
      return status && ENDED.includes(status) ? status : undefined;
    },
    {
      timeoutMs,
      giveUpWhen: () => (workers.length === 0 || workers.some(running) ? undefined : 'every worker exited'),
      detail: async () =>
        `nodes: ${JSON.stringify(await nodesOf(runId))}\n${workers
          .map((w, i) => `worker ${i} stdout:\n${w.stdout()}\nworker ${i} stderr:\n${w.stderr()}`)
          .join('\n')}`,
    },
  );
}

/**
 * Samples, until stopped, whether any node of the run is visibly written (a toy_values row, or a
 * committed 'end' event) while its run_nodes row is not `succeeded`; each sample is one statement,
 * so one snapshot of both tables. toy_values is truncated before each test: its rows are the run's.
 */
function watchWrittenButNotSucceeded(runId: string) {
  const violations = new Set<string>();
  let samples = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const rows = await toy.database.sql<{ node: string; status: string; seen: string }[]>`
        select case when n.partition_key = '' then n.asset_key else n.asset_key || '[' || n.partition_key || ']' end as node,
          n.status, 'toy_values' as seen
        from toy_values v join run_nodes n
          on n.run_id = ${runId} and n.asset_key = v.asset and n.partition_key = v.partition
        where n.status <> 'succeeded'
        union all
        select case when n.partition_key = '' then n.asset_key else n.asset_key || '[' || n.partition_key || ']' end,
          n.status, 'end event'
        from toy_events e join run_nodes n
          on n.run_id = e.run_id and n.asset_key = e.asset and n.partition_key = e.partition
        where e.run_id = ${runId} and e.event = 'end' and n.status <> 'succeeded'`;
      samples++;
      for (const row of rows) violations.add(`${row.node} has its ${row.seen} but is ${row.status}`);
      await sleep(20);
    }
  })();
  const stop = async () => {
    stopped = true;
    await loop;
    return { samples, violations: [...violations] };
  };
  toy.onCleanup(() => stop().then(() => undefined));
  return { stop };
}

describe('a node that fails for good, then `pipeline retry` once its cause is fixed', () => {
  const FAILING = `left[${MONTH}]`;
  const ERROR = `toy failure of ${FAILING}`;
  const STATES_AFTER_FAILURE: Record<string, string> = {
    source: 'succeeded',
    [`daily[${MONTH}]`]: 'succeeded',
    [FAILING]: 'failed',
    [`right[${MONTH}]`]: 'succeeded',
    [`rolling[${MONTH}]`]: 'succeeded',
    [`joined[${MONTH}]`]: 'pending',
    summary: 'pending',
  };
  /** Per executor: its failed run's nodes as `pipeline run --json` showed them. */
  const afterFailure = new Map<string, Record<string, Pick<NodeJson, 'status' | 'attempts' | 'error'>>>();

  /**
   * Runs '*' for one month with left failing while a file exists: the run fails with its
   * downstream pending. Then the file goes and `pipeline retry` resumes the same run to succeeded.
   */
  async function failThenRetry(executor: 'in-process' | 'workers') {
    const cause = join(scratch, `${executor}-left-is-broken`);
    writeFileSync(cause, `remove me to fix ${FAILING}\n`);
    toy.onCleanup(() => rmSync(cause, { force: true }));
    const failure = { TOY_FAIL: FAILING, TOY_FAIL_WHILE: cause };
    const inProcess = executor === 'in-process';
    const target = inProcess ? undefined : sharedRedis('fail-retry');
    if (target) await startWorker(target, ['--concurrency', '2'], failure);
    const here = inProcess ? ['--in-process'] : [];

    const first = await pipeline(['materialize', '*', '--partition', MONTH, ...here], {
      target,
      env: inProcess ? failure : {},
    });
    expect(first.stderr).toBe('');
    expect(first.code, first.stdout).toBe(1);
    const runId = runIdOf(first.stdout);
    expect(first.stdout).toMatch(new RegExp(`^ {2}✗ left\\[${MONTH}\\] {2}.*${literal(ERROR)}$`, 'm'));
    expect(first.stdout).toContain(`npx pipeline retry ${short(runId)}`);
    expect(first.stdout).toMatch(
      new RegExp(`^run ${runId} failed: 4 succeeded, 1 failed, 2 pending in `, 'm'),
    );

    const failed = await showRun(runId);
    expect(failed.run).toMatchObject({
      id: runId,
      status: 'failed',
      executor: inProcess ? 'in-process' : 'bullmq',
    });
    expect(failed.run.leaseUntil).toBeNull();
    expect(statusesOf(failed)).toEqual(STATES_AFTER_FAILURE);
    afterFailure.set(
      executor,
      Object.fromEntries(
        failed.nodes.map(({ status, attempts, error, ...node }) => [
          nodeId(node),
          { status, attempts, error },
        ]),
      ),
    );
    expect(failed.nodes.find((node) => nodeId(node) === FAILING)).toMatchObject({
      attempts: 2,
      error: ERROR,
    });
    // The failed attempts rolled back (their 'start' events too); the rest wrote once.
    const succeededFirst = ALL_NODES.filter((node) => STATES_AFTER_FAILURE[node] === 'succeeded');
    expect(await eventsOf(runId)).toEqual(once(succeededFirst));
    expect(Object.keys(await toyValues()).sort()).toEqual([...succeededFirst].sort());

    // The cause is fixed; the run is re-executed from its failure, in the same run.
    rmSync(cause);
    const runsBefore = await runCount();
    const retried = await pipeline(['retry', short(runId), ...here], {
      target,
      env: inProcess ? failure : {},
    });
    expect(retried.stderr).toBe('');
    expect(retried.code, retried.stdout).toBe(0);
    expect(retried.stdout).toContain(
      `run ${runId}: re-executing from its failures, 1 node ready (${inProcess ? 'in this process' : 'on the workers'})`,
    );
    expect(retried.stdout).toMatch(new RegExp(`^run ${runId} succeeded: 7 succeeded, 0 failed in `, 'm'));
    expect(await runCount()).toBe(runsBefore);

    expect(await runRow(runId)).toMatchObject({ status: 'succeeded', error: null, lease_until: null });
    expect(await nodeStatuses(runId)).toEqual(
      Object.fromEntries(ALL_NODES.map((node) => [node, 'succeeded'])),
    );
    // Each node wrote exactly once over both executions: nothing that had succeeded ran again.
    expect(await eventsOf(runId)).toEqual(once(ALL_NODES));
    expect(await toyValues()).toEqual(VALUES_OF_ONE_MONTH);
    // Every attempt is kept: the failed node's two failures, then its success.
    expect(await attemptsOf(runId)).toEqual({
      ...Object.fromEntries(ALL_NODES.map((node) => [node, ['#1 succeeded']])),
      [FAILING]: [`#1 failed: ${ERROR}`, `#2 failed: ${ERROR}`, '#3 succeeded'],
    });

    // The human view still shows what went wrong before the retry.
    const shown = await pipeline(['run', short(runId)]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`run ${runId}  succeeded`);
    expect(shown.stdout).not.toContain('\nerrors:');
    const section = shown.stdout.split('\nattempts that did not succeed:\n')[1];
    expect(section, shown.stdout).toBeDefined();
    const lines = (section ?? '').split('\n\n')[0]?.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines?.[0]).toMatch(
      new RegExp(`^ {2}left\\[${MONTH}\\] attempt 1 failed at .+: ${literal(ERROR)}$`),
    );
    expect(lines?.[1]).toMatch(
      new RegExp(`^ {2}left\\[${MONTH}\\] attempt 2 failed at .+: ${literal(ERROR)}$`),
    );
    return runId;
  }

  it('in-process: the run fails, downstream pending; `retry --in-process` completes the same run, each node written once', async () => {
    await failThenRetry('in-process');
  }, 120_000);

  it('on workers: the same; `retry` (on the workers) completes the same run, each node written once', async () => {
    const runId = await failThenRetry('workers');
    // The failed job was retried (not a second job): its node is done, and so is the job.
    const queue = assetQueue({ redisUrl: redisUrl(), prefix: toy.prefix('fail-retry') });
    const job = await queue.getJob(assetJobId({ runId, assetKey: 'left', partitionKey: MONTH }));
    expect(await job?.getState()).toBe('completed');
  }, 120_000);

  it('both executors left the failed run in the same state, node for node', () => {
    const inProcess = afterFailure.get('in-process');
    const workers = afterFailure.get('workers');
    expect(inProcess, 'the in-process test ran').toBeDefined();
    expect(workers, 'the workers test ran').toBeDefined();
    expect(workers).toEqual(inProcess);
  });
});

describe('`pipeline retry` refuses what it cannot re-execute', () => {
  it('a succeeded run: exit 2, nothing failed, and nothing runs again; an unknown run: exit 2', async () => {
    const ran = await pipeline(['materialize', 'source', '--in-process']);
    expect(ran.code, ran.stdout + ran.stderr).toBe(0);
    const runId = runIdOf(ran.stdout);

    // Independent commands: run side by side.
    const [inProcess, onWorkers, unknown] = await Promise.all([
      pipeline(['retry', short(runId), '--in-process']),
      pipeline(['retry', short(runId)]),
      pipeline(['retry', 'fedcba98', '--in-process']),
    ]);
    for (const again of [inProcess, onWorkers]) {
      expect(again.code, again.stdout + again.stderr).toBe(2);
      expect(again.stdout).toBe('');
      expect(again.stderr.trim()).toBe(
        `pipeline: run ${short(runId)} succeeded with no failed node: nothing to re-execute`,
      );
    }
    expect(await runRow(runId)).toMatchObject({ status: 'succeeded' });
    expect(await attemptsOf(runId)).toEqual({ source: ['#1 succeeded'] });
    expect(await eventsOf(runId)).toEqual(once(['source']));

    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no run fedcba98');
    expect(unknown.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});

describe('pipeline cancel', () => {
  /** Longer than any CLI start-up under load, and cut short when the node is aborted. */
  const CANCELABLE_SLEEP = { TOY_SLEEP_MS: '12000', TOY_SLEEP_ABORTABLE: '1' };

  it('in-process: the running node is aborted and rolled back, pending ones canceled, the CLI exits non-zero; retry completes the run', async () => {
    // A long, abortable sleep: the cancel lands while the node runs, however slow the machine.
    const materialize = startPipeline(['materialize', '*', '--partition', MONTH, '--in-process'], undefined, {
      ...CANCELABLE_SLEEP,
      PIPELINE_EXECUTOR_LEASE_SECONDS: '3',
    });
    const runId = (await materialize.waitForStdout(HEADER))[1] as string;
    await waitUntilInsideAssets(runId, 1, (nodes) => nodes[0]?.node === 'source');

    const cancel = await pipeline(['cancel', short(runId)]);
    expect(cancel.stderr).toBe('');
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain(`run ${runId} canceled`);
    expect(cancel.stdout).toContain('1 running node being aborted by its executor');
    expect(cancel.stdout).toContain('every running node was aborted; their writes were rolled back');

    const exit = await materialize.exited;
    expect([1, 130], materialize.stdout() + materialize.stderr()).toContain(exit.code);
    expect(materialize.stdout()).toMatch(
      new RegExp(`^run ${runId} canceled: 0 succeeded, 0 failed, 7 canceled`, 'm'),
    );

    expect(await runRow(runId)).toMatchObject({ status: 'canceled', lease_until: null });
    expect(await nodeStatuses(runId)).toEqual(
      Object.fromEntries(ALL_NODES.map((node) => [node, 'canceled'])),
    );
    // The running node's transaction rolled back: no value, not even its 'start' event.
    expect(await toyValues()).toEqual({});
    expect(await eventsOf(runId)).toEqual({});
    const attempts = await attemptsOf(runId);
    expect(Object.keys(attempts)).toEqual(['source']);
    expect(attempts.source).toHaveLength(1);
    expect(attempts.source?.[0]).toMatch(/^#1 canceled/);

    // A finished run cannot be canceled.
    const twice = await pipeline(['cancel', short(runId)]);
    expect(twice.code).toBe(2);
    expect(twice.stderr.trim()).toBe(
      `pipeline: run ${short(runId)} has already ended (canceled): nothing to cancel`,
    );

    // Canceled nodes are re-executed like failed ones.
    const retried = await pipeline(['retry', short(runId), '--in-process']);
    expect(retried.code, retried.stdout + retried.stderr).toBe(0);
    expect(retried.stdout).toContain(
      `run ${runId}: re-executing from its failures, 1 node ready (in this process)`,
    );
    expect(await runRow(runId)).toMatchObject({ status: 'succeeded' });
    expect(await eventsOf(runId)).toEqual(once(ALL_NODES));
    expect(await toyValues()).toEqual(VALUES_OF_ONE_MONTH);
    expect((await attemptsOf(runId)).source?.[1]).toBe('#2 succeeded');

    const finished = await pipeline(['cancel', short(runId)]);
    expect(finished.code).toBe(2);
    expect(finished.stderr).toContain('has already ended (succeeded): nothing to cancel');
  }, 120_000);

  it('on workers: the worker aborts the running node (rolled back), pending ones canceled; the worker stays up and runs a later run', async () => {
    const target = sharedRedis('cancel');
    const queue = assetQueue(target);
    const worker = await startWorker(target, [], CANCELABLE_SLEEP);
    const runId = await enqueueRun(target, 'source daily');
    await waitUntilInsideAssets(runId, 1, (nodes) => nodes[0]?.node === 'source');

    const cancel = await pipeline(['cancel', short(runId)], { target });
    expect(cancel.stderr).toBe('');
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain(`run ${runId} canceled`);
    expect(cancel.stdout).toContain('1 running node being aborted by its executor');
    expect(cancel.stdout).toContain('every running node was aborted; their writes were rolled back');

    expect(await runRow(runId)).toMatchObject({ status: 'canceled' });
    expect(await nodeStatuses(runId)).toEqual({ source: 'canceled', [`daily[${MONTH}]`]: 'canceled' });
    expect(await toyValues()).toEqual({});
    expect(await eventsOf(runId)).toEqual({});
    const attempts = await attemptsOf(runId);
    expect(Object.keys(attempts)).toEqual(['source']);
    expect(attempts.source?.[0]).toMatch(/^#1 canceled/);
    // The job ended (not retried), and the canceled node's downstream never got a job.
    const sourceJob = assetJobId({ runId, assetKey: 'source', partitionKey: '' });
    // The job itself ends only once the asset's 12 s sleep returns (measured ~17 s for this test
    // alone, before and after the sensor work): a loaded machine needs more than the default 30 s.
    await waitFor('the canceled job to fail', async () => (await queue.getJobState(sourceJob)) === 'failed', {
      timeoutMs: 90_000,
    });
    expect(await queue.getJob(assetJobId({ runId, assetKey: 'daily', partitionKey: MONTH }))).toBeUndefined();

    const finished = await pipeline(['cancel', short(runId)], { target });
    expect(finished.code).toBe(2);
    expect(finished.stderr).toContain('has already ended (canceled): nothing to cancel');

    // The same worker goes on with other runs.
    expect(running(worker)).toBe(true);
    const later = await enqueueRun(target, 'source');
    expect(await waitForRunEnd(later, [worker])).toBe('succeeded');
    expect(await eventsOf(later)).toEqual(once(['source']));
    expect(await toyValues()).toEqual({ source: 1 });
    expect(running(worker)).toBe(true);
  }, 120_000);
});

describe('pipeline cancel, when the worker running a node has died', () => {
  it('the job handed on by stall detection settles the dead attempt canceled; retry then completes the run', async () => {
    const target = sharedRedis('cancel-dead');
    const queue = assetQueue(target);
    const stall = ['--lock-duration', '2000', '--stalled-interval', '1000'];
    const first = await startWorker(target, stall, { TOY_SLEEP_MS: '3000' });
    const runId = await enqueueRun(target, 'source daily');
    await waitUntilInsideAssets(runId, 1, (nodes) => nodes[0]?.node === 'source');
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');

    // Canceled while its only running node belongs to a dead worker: `cancel` waits for it.
    const cancel = startPipeline(['cancel', short(runId)], target);
    await waitFor('the run to be canceled', async () => (await runRow(runId))?.status === 'canceled');
    expect(await nodeStatuses(runId)).toEqual({ source: 'running', [`daily[${MONTH}]`]: 'canceled' });

    // Another worker takes the dead worker's job over: its run is canceled, so the node is too.
    const second = await startWorker(target, stall);
    const sourceJob = assetJobId({ runId, assetKey: 'source', partitionKey: '' });
    await waitFor(
      'the handed-on job to end',
      async () => ['completed', 'failed'].includes(await queue.getJobState(sourceJob)),
      { timeoutMs: 30_000, detail: () => second.stdout() },
    );
    expect((await queue.getJob(sourceJob))?.stalledCounter).toBe(1);
    // A canceled run has no running node left behind (a `materialize` following it waits for that).
    expect(await nodeStatuses(runId)).toEqual({ source: 'canceled', [`daily[${MONTH}]`]: 'canceled' });
    const canceled = await cancel.exited;
    expect(canceled.code, cancel.stdout() + cancel.stderr()).toBe(0);
    expect(cancel.stdout()).toContain('every running node was aborted; their writes were rolled back');
    const attempts = await attemptsOf(runId);
    expect(attempts.source).toHaveLength(1);
    expect(attempts.source?.[0]).not.toMatch(/succeeded/);
    expect(await toyValues()).toEqual({});

    const retried = await pipeline(['retry', short(runId), '--no-wait'], { target });
    expect(retried.code, retried.stdout + retried.stderr).toBe(0);
    expect(await waitForRunEnd(runId, [second], 30_000)).toBe('succeeded');
    expect(await eventsOf(runId)).toEqual(once(['source', `daily[${MONTH}]`]));
    expect(await toyValues()).toEqual({ source: 1, [`daily[${MONTH}]`]: 2 });
  }, 120_000);
});

describe('a CLI killed in the middle of an in-process run', () => {
  it('stays running until its lease passes; the next look fails it "executor lost"; `retry --in-process` completes it, each node written once', async () => {
    const materialize = startPipeline(['materialize', '*', '--partition', MONTH, '--in-process'], undefined, {
      TOY_SLEEP_MS: '1500',
      PIPELINE_EXECUTOR_LEASE_SECONDS: '2',
    });
    const runId = (await materialize.waitForStdout(HEADER))[1] as string;
    // daily has committed; two of its three dependants are inside their transactions (concurrency
    // 2), the third is queued.
    const atKill = await waitUntilInsideAssets(runId, 2, (nodes) =>
      nodes.some((node) => node.node === `daily[${MONTH}]` && node.status === 'succeeded'),
    );
    materialize.child.kill('SIGKILL');
    expect((await materialize.exited).signal).toBe('SIGKILL');

    const wasRunning = atKill.filter((node) => node.status === 'running').map((node) => node.node);
    const wasQueued = atKill.filter((node) => node.status === 'queued').map((node) => node.node);
    expect(wasRunning).toHaveLength(2);
    expect(wasQueued).toHaveLength(1);
    // Nobody has looked yet, and the lease has not passed: the run is still running.
    const right = await runRow(runId);
    expect(right).toMatchObject({ status: 'running', error: null });
    expect(right?.lease_valid).toBe(true);
    await waitFor('the lease to pass', async () => (await runRow(runId))?.lease_valid === false, {
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    expect((await runRow(runId))?.status).toBe('running'); // expired, but nobody has looked yet

    // The next look (any command opening the database) marks it failed.
    const listed = await pipeline(['runs', '--json']);
    expect(listed.code).toBe(0);
    const summary = (
      JSON.parse(listed.stdout) as { id: string; status: string; error: string | null }[]
    ).find((run) => run.id === runId);
    expect(summary?.status).toBe('failed');
    expect(summary?.error).toMatch(/^executor lost: /);

    const shown = await pipeline(['run', short(runId)]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`run ${runId}  failed`);
    expect(shown.stdout).toMatch(/^ {2}error: executor lost: /m);
    for (const node of wasRunning) {
      expect(shown.stdout).toContain(`  ${node}: executor lost: the process running this node stopped`);
      expect(shown.stdout).toMatch(
        new RegExp(`^ {2}${literal(node)} attempt 1 failed at .+: executor lost`, 'm'),
      );
    }
    expect(await nodeStatuses(runId)).toEqual({
      source: 'succeeded',
      [`daily[${MONTH}]`]: 'succeeded',
      ...Object.fromEntries(wasRunning.map((node) => [node, 'failed'])),
      ...Object.fromEntries(wasQueued.map((node) => [node, 'pending'])),
      [`joined[${MONTH}]`]: 'pending',
      summary: 'pending',
    });
    // The killed transactions rolled back with their connections.
    expect(await eventsOf(runId)).toEqual(once(['source', `daily[${MONTH}]`]));

    const retried = await pipeline(['retry', short(runId), '--in-process']);
    expect(retried.code, retried.stdout + retried.stderr).toBe(0);
    expect(retried.stdout).toContain(
      `run ${runId}: re-executing from its failures, 3 nodes ready (in this process)`,
    );
    expect(retried.stdout).toMatch(new RegExp(`^run ${runId} succeeded: 7 succeeded, 0 failed in `, 'm'));
    expect(await runRow(runId)).toMatchObject({ status: 'succeeded', error: null, lease_until: null });
    expect(await nodeStatuses(runId)).toEqual(
      Object.fromEntries(ALL_NODES.map((node) => [node, 'succeeded'])),
    );
    expect(await eventsOf(runId)).toEqual(once(ALL_NODES));
    expect(await toyValues()).toEqual(VALUES_OF_ONE_MONTH);
    const attempts = await attemptsOf(runId);
    for (const node of wasRunning) {
      expect(attempts[node]).toEqual([
        '#1 failed: executor lost: the process running this attempt stopped',
        '#2 succeeded',
      ]);
    }
    for (const node of wasQueued) expect(attempts[node]).toEqual(['#1 succeeded']);
  }, 120_000);
});

describe('a CLI killed, then its run canceled before the lease passed', () => {
  it('`pipeline retry --in-process` does not leave the run running with nobody to run it: it completes it', async () => {
    const lease = 15;
    const materialize = startPipeline(
      ['materialize', 'source daily', '--partition', MONTH, '--in-process'],
      undefined,
      {
        TOY_SLEEP_MS: '3000',
        PIPELINE_EXECUTOR_LEASE_SECONDS: String(lease),
      },
    );
    const runId = (await materialize.waitForStdout(HEADER))[1] as string;
    await waitUntilInsideAssets(runId, 1, (nodes) => nodes[0]?.node === 'source');
    materialize.child.kill('SIGKILL');
    expect((await materialize.exited).signal).toBe('SIGKILL');

    // `cancel` waits for the dead CLI's running node; the run itself is canceled at once.
    startPipeline(['cancel', short(runId)], undefined);
    await waitFor('the run to be canceled', async () => (await runRow(runId))?.status === 'canceled');
    expect(await nodeStatuses(runId)).toEqual({ source: 'running', [`daily[${MONTH}]`]: 'canceled' });
    expect((await runRow(runId))?.lease_valid).toBe(true);

    // Re-executing it now may take the dead CLI's node over, or refuse until its lease has passed;
    // either way the run ends up complete, never running with no executor left to finish it.
    let retried = await pipeline(['retry', short(runId), '--in-process']);
    if (retried.code === 2) {
      expect(retried.stderr).toMatch(/running/);
      expect(await runRow(runId)).toMatchObject({ status: 'canceled' });
      // Passed (false), or already released (null) by the look that settled the dead CLI's node.
      await waitFor('the lease to pass', async () => (await runRow(runId))?.lease_valid !== true, {
        timeoutMs: (lease + 5) * 1000,
      });
      retried = await pipeline(['retry', short(runId), '--in-process']);
    }
    expect(retried.code, `${retried.stdout}${retried.stderr}\n${JSON.stringify(await nodesOf(runId))}`).toBe(
      0,
    );
    expect(await runRow(runId)).toMatchObject({ status: 'succeeded', lease_until: null });
    expect(await nodeStatuses(runId)).toEqual({ source: 'succeeded', [`daily[${MONTH}]`]: 'succeeded' });
    expect(await eventsOf(runId)).toEqual(once(['source', `daily[${MONTH}]`]));
    expect(await toyValues()).toEqual({ source: 1, [`daily[${MONTH}]`]: 2 });
  }, 120_000);
});

describe('a worker killed in the middle of a node', () => {
  const stall = ['--lock-duration', '2000', '--stalled-interval', '1000'];

  it('inside the transaction: another worker takes the job over; never written without succeeded; written once', async () => {
    const target = sharedRedis('kill-inside');
    const queue = assetQueue(target);
    const first = await startWorker(target, stall, { TOY_SLEEP_MS: '3000' });
    const runId = await enqueueRun(target, '*');
    const watch = watchWrittenButNotSucceeded(runId);
    await waitUntilInsideAssets(runId, 1, (nodes) => nodes[0]?.node === 'source');

    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    expect(await nodeStatuses(runId)).toMatchObject({ source: 'running' });
    // Its worker is gone, but the run has not ended: there is nothing to retry.
    const early = await pipeline(['retry', short(runId)], { target });
    expect(early.code).toBe(2);
    expect(early.stderr.trim()).toBe(
      `pipeline: run ${short(runId)} is still running: re-execute it once it has ended`,
    );

    const second = await startWorker(target, stall);
    expect(await waitForRunEnd(runId, [second])).toBe('succeeded');
    const { samples, violations } = await watch.stop();
    expect(samples).toBeGreaterThan(0);
    expect(violations).toEqual([]);

    const job = await queue.getJob(assetJobId({ runId, assetKey: 'source', partitionKey: '' }));
    expect(job?.stalledCounter).toBe(1);
    expect(Object.values(await nodeStatuses(runId)).every((status) => status === 'succeeded')).toBe(true);
    expect(await eventsOf(runId)).toEqual(once(ALL_NODES));
    expect(await toyValues()).toEqual(VALUES_OF_ONE_MONTH);
    // The killed attempt is kept as abandoned; the one that took over succeeded.
    const attempts = await attemptsOf(runId);
    expect(attempts.source).toEqual([
      '#1 failed: abandoned: its executor stopped before the attempt ended (its transaction was rolled back)',
      '#2 succeeded',
    ]);
    const [materialized] = await toy.database.sql<{ n: number }[]>`
      select count(*)::int as n from materializations where run_id = ${runId} and asset_key = 'source'`;
    expect(materialized?.n).toBe(1);
  }, 120_000);

  it('twice on the same node: BullMQ fails the job for stalling; the node and the run end failed, and retry completes it', async () => {
    const target = sharedRedis('kill-twice');
    const queue = assetQueue(target);
    const first = await startWorker(target, stall, { TOY_SLEEP_MS: '2000' });
    const runId = await enqueueRun(target, 'source daily');
    const sourceJob = assetJobId({ runId, assetKey: 'source', partitionKey: '' });
    await waitUntilInsideAssets(runId, 1, (nodes) => nodes[0]?.node === 'source');
    first.child.kill('SIGKILL');
    await first.exited;
    // The job is handed to a second worker, which dies in the same place.
    const second = await startWorker(target, stall, { TOY_SLEEP_MS: '2000' });
    await waitFor('attempt 2 to start', async () => (await nodesOf(runId))[0]?.attempts === 2, {
      timeoutMs: 30_000,
    });
    await waitUntilInsideAssets(runId, 1, (nodes) => nodes[0]?.node === 'source');
    second.child.kill('SIGKILL');
    await second.exited;

    // Past BullMQ's stall limit (1), the job fails for good without any processor running it.
    const third = await startWorker(target, stall);
    await waitFor(
      'the job to fail for stalling',
      async () => (await queue.getJobState(sourceJob)) === 'failed',
      {
        timeoutMs: 30_000,
      },
    );
    expect((await queue.getJob(sourceJob))?.failedReason).toMatch(/stalled/);
    // A job that failed for good is a node that failed for good: the run ends failed, retryable
    // (soon: workers look for lost runs every 10 s).
    expect(await waitForRunEnd(runId, [third], 15_000)).toBe('failed');
    expect(await nodeStatuses(runId)).toEqual({ source: 'failed', [`daily[${MONTH}]`]: 'pending' });
    expect(await toyValues()).toEqual({});

    const retried = await pipeline(['retry', short(runId)], { target });
    expect(retried.code, retried.stdout + retried.stderr).toBe(0);
    expect(await runRow(runId)).toMatchObject({ status: 'succeeded' });
    expect(await eventsOf(runId)).toEqual(once(['source', `daily[${MONTH}]`]));
  }, 120_000);

  it('after its commit, before BullMQ heard of it (its Redis paused): the redelivered job finds the node done and the run goes on, once', async () => {
    // A redis-server of the test's own: pausing the shared one would stall every other test.
    const dir = mkdtempSync(join(tmpdir(), 'pipeline-redis-'));
    toy.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    const redis = await startRedisServer(await freePort(), dir);
    toy.onCleanup(() => redis.stop());
    const control = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    toy.onCleanup(() => control.disconnect());
    const target = { redisUrl: redis.url, prefix: 'pause' };

    const first = await startWorker(target, stall, { TOY_SLEEP_MS: '2000' });
    const runId = await enqueueRun(target, '*');
    const watch = watchWrittenButNotSucceeded(runId);
    await waitUntilInsideAssets(runId, 1, (nodes) => nodes[0]?.node === 'source');

    // Writes to Redis (BullMQ's scripts included) now wait: the node commits in PostgreSQL, then
    // its worker blocks on enqueueing what it unblocked and completing its job.
    await control.call('CLIENT', 'PAUSE', '30000', 'WRITE');
    try {
      await waitFor('source to commit', async () => (await nodeStatuses(runId)).source === 'succeeded', {
        timeoutMs: 15_000,
        intervalMs: 20,
      });
      expect(await nodeStatuses(runId)).toMatchObject({ source: 'succeeded', [`daily[${MONTH}]`]: 'queued' });
      first.child.kill('SIGKILL');
      expect((await first.exited).signal).toBe('SIGKILL');
      // Its blocked commands die with its connections: wait until Redis has dropped them all.
      await waitFor(
        "the dead worker's connections to close",
        async () =>
          String(await control.call('CLIENT', 'LIST'))
            .trim()
            .split('\n').length === 1,
        { timeoutMs: 10_000, intervalMs: 50 },
      );
    } finally {
      // Before anything else (a failed assertion's cleanup included) talks to this Redis again.
      await control.call('CLIENT', 'UNPAUSE');
    }

    const queue = assetQueue(target);
    const sourceJob = assetJobId({ runId, assetKey: 'source', partitionKey: '' });
    // BullMQ never heard of the completion: the job is still active, and daily has no job yet.
    expect(await queue.getJobState(sourceJob)).toBe('active');
    expect(await queue.getJob(assetJobId({ runId, assetKey: 'daily', partitionKey: MONTH }))).toBeUndefined();

    const second = await startWorker(target, stall);
    expect(await waitForRunEnd(runId, [second])).toBe('succeeded');
    const { samples, violations } = await watch.stop();
    expect(samples).toBeGreaterThan(0);
    expect(violations).toEqual([]);

    const job = await queue.getJob(sourceJob);
    expect(job?.stalledCounter).toBe(1);
    expect(job?.returnvalue).toEqual({ outcome: 'done' });
    expect(Object.values(await nodeStatuses(runId)).every((status) => status === 'succeeded')).toBe(true);
    expect(await eventsOf(runId)).toEqual(once(ALL_NODES));
    expect(await toyValues()).toEqual(VALUES_OF_ONE_MONTH);
    // The redelivery did not count as an attempt: source ran once.
    expect((await attemptsOf(runId)).source).toEqual(['#1 succeeded']);
    expect((await nodesOf(runId)).find((node) => node.node === 'source')?.attempts).toBe(1);
  }, 120_000);
});

/** A string matched literally inside a RegExp. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
