import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeId } from '../../engine/node.ts';
import type { PlanNode, RunPlan } from '../../engine/plan.ts';
import { NodeSupersededError, RunCanceledError, RunStore } from '../../engine/run-store.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

/**
 * The node protocol's SQL, statement by statement, against a real PostgreSQL: what both executors
 * rely on — claims, fencing, settlement, re-execution, cancel and lost executors.
 */

let database: TestDatabase;
let store: RunStore;

beforeAll(async () => {
  database = await createTestDatabase();
  store = new RunStore(database.sql);
  await database.sql`create table writes (node text primary key)`;
});
afterAll(() => database.drop());

const node = (key: string, upstream: string[] = []): PlanNode => ({
  id: nodeId(key, ''),
  assetKey: key,
  partitionKey: '',
  upstream,
});
const plan = (...nodes: PlanNode[]): RunPlan => ({ nodes, partitions: [] });
/** a → b, a → c, (b, c) → d */
const diamond = () => plan(node('a'), node('b', ['a']), node('c', ['a']), node('d', ['b', 'c']));
const ref = (key: string) => ({ assetKey: key, partitionKey: '' });
const success = { durationMs: 1, metadata: { rowCount: 1 }, checks: [], codeVersion: '1', inputs: [] };

async function newRun(runPlan: RunPlan, extra: { leaseSeconds?: number; runKey?: string } = {}) {
  return store.createRun({ trigger: 'test', selection: 'test', executor: 'test', plan: runPlan, ...extra });
}

/** Starts the node and completes it in its own transaction, writing a row as an asset would. */
async function succeed(runId: string, key: string) {
  const started = await store.startNode(runId, ref(key));
  if (started.state !== 'started') throw new Error(`${key} did not start: ${started.state}`);
  return database.sql.begin(async (tx) => {
    await tx`insert into writes values (${`${runId}:${key}`}) on conflict do nothing`;
    return store.completeNode(tx, runId, ref(key), started.attempt, success);
  });
}

async function fail(runId: string, key: string, end: 'failed' | 'retrying' | 'canceled' = 'failed') {
  const started = await store.startNode(runId, ref(key));
  if (started.state !== 'started') throw new Error(`${key} did not start: ${started.state}`);
  return store.failNode(runId, ref(key), started.attempt, {
    durationMs: 1,
    error: `${key} broke`,
    checks: [],
    end,
  });
}

async function states(runId: string) {
  const rows = await database.sql<{ asset_key: string; status: string; waiting: number }[]>`
    select asset_key, status, waiting from run_nodes where run_id = ${runId} order by position`;
  return Object.fromEntries(rows.map((row) => [row.asset_key, row.status]));
}

const runStatus = async (runId: string) =>
  (await database.sql<{ status: string }[]>`select status from runs where id = ${runId}`)[0]?.status;

describe('claims and settlement', () => {
  it('queues the roots at creation, claims each node once its upstream all succeeded, and settles succeeded', async () => {
    const { runId, ready } = await newRun(diamond());
    expect(ready).toEqual([ref('a')]);
    expect(await states(runId)).toEqual({ a: 'queued', b: 'pending', c: 'pending', d: 'pending' });
    expect((await succeed(runId, 'a')).ready).toEqual([ref('b'), ref('c')]);
    expect(await runStatus(runId)).toBe('running');
    expect((await succeed(runId, 'b')).ready).toEqual([]);
    expect(await states(runId)).toMatchObject({ d: 'pending' });
    const last = await succeed(runId, 'c');
    expect(last.ready).toEqual([ref('d')]);
    expect(await succeed(runId, 'd')).toEqual({ ready: [], status: 'succeeded' });
    expect(await runStatus(runId)).toBe('succeeded');
    const [events] = await database.sql<{ n: number }[]>`
      select count(*)::int as n from materializations where run_id = ${runId}`;
    expect(events?.n).toBe(4);
  });

  it("releases a diamond's join exactly once when both of its upstream nodes complete at once", async () => {
    for (let round = 0; round < 10; round++) {
      const { runId } = await newRun(diamond());
      await succeed(runId, 'a');
      const [b, c] = await Promise.all([succeed(runId, 'b'), succeed(runId, 'c')]);
      expect([...b.ready, ...c.ready]).toEqual([ref('d')]);
      await succeed(runId, 'd');
      expect(await runStatus(runId)).toBe('succeeded');
    }
  });

  it('a failed node leaves its downstream pending; the run fails once nothing is active', async () => {
    const { runId } = await newRun(diamond());
    await succeed(runId, 'a');
    expect(await fail(runId, 'b')).toBe('running'); // c is still queued
    expect(await succeed(runId, 'c')).toEqual({ ready: [], status: 'failed' });
    expect(await states(runId)).toEqual({ a: 'succeeded', b: 'failed', c: 'succeeded', d: 'pending' });
    const [attempt] = await database.sql<{ status: string; error: string }[]>`
      select status, error from node_attempts where run_id = ${runId} and asset_key = 'b'`;
    expect(attempt).toEqual({ status: 'failed', error: 'b broke' });
  });

  it('two nodes of a run failing at once, with their checks, never deadlock on the run', async () => {
    // The run's row is locked before a check row's foreign key takes its lighter lock on it.
    const check = { name: 'c', severity: 'error' as const, passed: false, message: 'no' };
    for (let round = 0; round < 20; round++) {
      const { runId } = await newRun(plan(node('a'), node('b'), node('c', ['a', 'b'])));
      const [a, b] = await Promise.all([store.startNode(runId, ref('a')), store.startNode(runId, ref('b'))]);
      if (a.state !== 'started' || b.state !== 'started') throw new Error('not started');
      const failure = { durationMs: 1, error: 'broke', checks: [check], end: 'failed' as const };
      await Promise.all([
        store.failNode(runId, ref('a'), a.attempt, failure),
        store.failNode(runId, ref('b'), b.attempt, failure),
      ]);
      expect(await runStatus(runId)).toBe('failed');
    }
  });

  it('a retried attempt goes back to queued with its error shown, then succeeds as attempt 2', async () => {
    const { runId } = await newRun(plan(node('a')));
    expect(await fail(runId, 'a', 'retrying')).toBe('running');
    const [row] = await database.sql<{ status: string; error: string }[]>`
      select status, error from run_nodes where run_id = ${runId}`;
    expect(row).toEqual({ status: 'queued', error: 'attempt 1 failed: a broke' });
    await succeed(runId, 'a');
    const attempts = await database.sql<{ attempt: number; status: string }[]>`
      select attempt, status from node_attempts where run_id = ${runId} order by attempt`;
    expect(attempts).toEqual([
      { attempt: 1, status: 'failed' },
      { attempt: 2, status: 'succeeded' },
    ]);
  });
});

describe('fencing', () => {
  it('an attempt taken over by a later one rolls its write back and records nothing', async () => {
    const { runId } = await newRun(plan(node('a')));
    const first = await store.startNode(runId, ref('a'));
    // Its executor stalls; the job is handed on and started again (attempt 2).
    const second = await store.startNode(runId, ref('a'));
    expect(first).toMatchObject({ state: 'started', attempt: 1 });
    expect(second).toMatchObject({ state: 'started', attempt: 2 });
    await expect(
      database.sql.begin(async (tx) => {
        await tx`insert into writes values (${`${runId}:stale`})`;
        return store.completeNode(tx, runId, ref('a'), 1, success);
      }),
    ).rejects.toBeInstanceOf(NodeSupersededError);
    expect(await database.sql`select 1 from writes where node = ${`${runId}:stale`}`).toHaveLength(0);
    // The abandoned first attempt is in the history; the second one completes.
    const [abandoned] = await database.sql<{ attempt: number; error: string }[]>`
      select attempt, error from node_attempts where run_id = ${runId}`;
    expect(abandoned?.attempt).toBe(1);
    expect(abandoned?.error).toMatch(/^abandoned: /);
    await database.sql.begin((tx) => store.completeNode(tx, runId, ref('a'), 2, success));
    expect(await runStatus(runId)).toBe('succeeded');
  });

  it('a run canceled while its node ran rolls the node back', async () => {
    const { runId } = await newRun(plan(node('a'), node('b', ['a'])));
    const started = await store.startNode(runId, ref('a'));
    if (started.state !== 'started') throw new Error(started.state);
    expect(await store.cancel(runId, 'canceled by a test')).toEqual({ running: 1 });
    await expect(
      database.sql.begin(async (tx) => {
        await tx`insert into writes values (${`${runId}:a`})`;
        return store.completeNode(tx, runId, ref('a'), started.attempt, success);
      }),
    ).rejects.toBeInstanceOf(RunCanceledError);
    expect(await database.sql`select 1 from writes where node = ${`${runId}:a`}`).toHaveLength(0);
    await store.failNode(runId, ref('a'), started.attempt, {
      durationMs: 1,
      error: 'run canceled',
      checks: [],
      end: 'canceled',
    });
    expect(await states(runId)).toEqual({ a: 'canceled', b: 'canceled' });
    expect(await runStatus(runId)).toBe('canceled');
    expect(await store.startNode(runId, ref('a'))).toEqual({ state: 'canceled' });
  });

  it("a canceled run's node left running by a dead executor ends canceled when its job is taken up again", async () => {
    const { runId } = await newRun(plan(node('a'), node('b', ['a'])));
    await store.startNode(runId, ref('a')); // its executor dies here
    await store.cancel(runId, 'canceled by a test');
    await expect(store.reexecute(runId, 'test')).rejects.toThrow(/1 of its nodes are still running/);
    expect(await store.startNode(runId, ref('a'))).toEqual({ state: 'canceled' });
    expect(await states(runId)).toEqual({ a: 'canceled', b: 'canceled' });
    const [attempt] = await database.sql<{ status: string; error: string }[]>`
      select status, error from node_attempts where run_id = ${runId}`;
    expect(attempt?.status).toBe('canceled');
    expect(await store.reexecute(runId, 'test')).toEqual([ref('a')]);
  });

  it('a node whose job failed without its processor (stalled too often) is failed, whatever its attempt', async () => {
    const { runId } = await newRun(plan(node('a'), node('b', ['a'])));
    await store.startNode(runId, ref('a'));
    await store.startNode(runId, ref('a')); // attempt 2, whose worker died too
    const status = await store.failNode(runId, ref('a'), undefined, {
      durationMs: 0,
      error: 'its job failed: job stalled more than allowable limit',
      checks: [],
      end: 'failed',
    });
    expect(status).toBe('failed');
    expect(await states(runId)).toEqual({ a: 'failed', b: 'pending' });
    const attempts = await database.sql<{ attempt: number; status: string }[]>`
      select attempt, status from node_attempts where run_id = ${runId} order by attempt`;
    expect(attempts).toEqual([
      { attempt: 1, status: 'failed' },
      { attempt: 2, status: 'failed' },
    ]);
  });

  it('says why a node cannot start: done, blocked, missing', async () => {
    const { runId } = await newRun(plan(node('a'), node('b', ['a'])));
    expect(await store.startNode(runId, ref('b'))).toEqual({ state: 'blocked' });
    await succeed(runId, 'a');
    expect(await store.startNode(runId, ref('a'))).toEqual({ state: 'done' });
    expect(await store.startNode(runId, ref('nope'))).toEqual({ state: 'missing' });
    expect(await store.startNode('00000000-0000-0000-0000-000000000000', ref('a'))).toEqual({
      state: 'missing',
    });
  });
});

describe('re-execution and cancel', () => {
  it('re-executes the failed node and goes on, in the same run; a run without failures refuses', async () => {
    const { runId } = await newRun(diamond());
    await succeed(runId, 'a');
    await fail(runId, 'b');
    await succeed(runId, 'c');
    expect(await runStatus(runId)).toBe('failed');
    expect(await store.reexecute(runId, 'test')).toEqual([ref('b')]);
    expect(await runStatus(runId)).toBe('running');
    await expect(store.reexecute(runId, 'test')).rejects.toThrow(/is still running/);
    expect((await succeed(runId, 'b')).ready).toEqual([ref('d')]);
    await succeed(runId, 'd');
    expect(await runStatus(runId)).toBe('succeeded');
    await expect(store.reexecute(runId, 'test')).rejects.toThrow(
      /succeeded with no failed node: nothing to re-execute/,
    );
  });

  it('cancel refuses a run that has ended', async () => {
    const { runId } = await newRun(plan(node('a')));
    await succeed(runId, 'a');
    await expect(store.cancel(runId, 'late')).rejects.toThrow(/has already ended \(succeeded\)/);
  });
});

describe('leases: runs whose executor went silent', () => {
  it('fails a run whose lease passed: running nodes failed, queued back to pending; re-execution completes it', async () => {
    const { runId } = await newRun(plan(node('a'), node('b'), node('c', ['a', 'b'])), { leaseSeconds: 1 });
    await store.startNode(runId, ref('a')); // running when its executor dies; b is still queued
    expect(await store.reapLostRuns()).not.toContain(runId); // the lease has not passed yet
    await sleep(1_200);
    expect(await store.reapLostRuns()).toContain(runId);
    const [run] = await database.sql<{ status: string; error: string; lease_until: Date | null }[]>`
      select status, error, lease_until from runs where id = ${runId}`;
    expect(run?.status).toBe('failed');
    expect(run?.error).toMatch(/^executor lost: /);
    expect(run?.lease_until).toBeNull();
    expect(await states(runId)).toEqual({ a: 'failed', b: 'pending', c: 'pending' });
    const [lost] = await database.sql<{ error: string }[]>`
      select error from node_attempts where run_id = ${runId} and asset_key = 'a'`;
    expect(lost?.error).toMatch(/^executor lost/);
    expect(await store.reapLostRuns()).not.toContain(runId);

    expect(await store.reexecute(runId, 'test', 30)).toEqual([ref('a'), ref('b')]);
    await succeed(runId, 'a');
    await succeed(runId, 'b');
    await succeed(runId, 'c');
    expect(await runStatus(runId)).toBe('succeeded');
  });

  it('a heartbeat keeps the run, and tells the executor when it was canceled', async () => {
    const { runId } = await newRun(plan(node('a')), { leaseSeconds: 1 });
    for (let beat = 0; beat < 3; beat++) {
      await sleep(500);
      expect((await store.heartbeat([runId], 1)).get(runId)).toBe('queued');
    }
    expect(await store.reapLostRuns()).not.toContain(runId);
    await store.cancel(runId, 'by a test');
    expect((await store.heartbeat([runId], 1)).get(runId)).toBe('canceled');
  });
});

describe('creating runs', () => {
  it('a run key makes creation idempotent', async () => {
    const first = await newRun(plan(node('a')), { runKey: 'test:tick-1' });
    const again = await newRun(plan(node('a')), { runKey: 'test:tick-1' });
    expect(again).toEqual({ runId: first.runId, ready: [], existing: true });
  });

  it('records a plan of 20 000 nodes in one statement (no parameter limit)', async () => {
    const nodes = Array.from({ length: 20_000 }, (_, i) => node(`n${i}`, i === 0 ? [] : [`n${i - 1}`]));
    const { runId, ready } = await newRun(plan(...nodes));
    expect(ready).toEqual([ref('n0')]);
    const [row] = await database.sql<{ n: number; waiting: number }[]>`
      select count(*)::int as n, sum(waiting)::int as waiting from run_nodes where run_id = ${runId}`;
    expect(row).toEqual({ n: 20_000, waiting: 19_999 });
  });

  it('a plan without nodes is a run that succeeded', async () => {
    const { runId, ready } = await newRun(plan());
    expect(ready).toEqual([]);
    expect(await runStatus(runId)).toBe('succeeded');
  });
});
