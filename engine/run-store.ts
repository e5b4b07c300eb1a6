import type { Sql, TransactionSql } from 'postgres';
import type { AssetMetadata, MetadataValue, SourceRead } from './asset.ts';
import { PipelineError, UsageError } from './errors.ts';
import type { InputRef } from './lineage.ts';
import { idOf, type NodeRef } from './node.ts';
import type { RunPlan } from './plan.ts';

/**
 * The one node protocol, in PostgreSQL: every executor (in-process or BullMQ workers on many
 * machines) records runs and moves their nodes through the same statements, so readiness, failure
 * and a run's status are decided here and nowhere else.
 *
 *   createRun   run + nodes; the nodes with nothing to wait for are `queued` (to dispatch)
 *   startNode   queued → running, a new attempt (commits on its own: `running` is visible)
 *   completeNode  inside the asset's own transaction: running → succeeded, its materialization
 *               and checks recorded, the nodes it unblocked claimed (→ queued, returned to
 *               dispatch) and the run settled — one commit, atomic with the asset's write
 *   failNode    the attempt failed: back to queued (to be tried again), failed for good, or
 *               canceled; the run settled
 *
 * A node that fails for good leaves its downstream `pending`: the run ends `failed` once nothing
 * is queued or running, and re-executing it (or retrying the failed job) goes on from there.
 * Every statement that settles a run first locks the run's row, so two nodes finishing at once
 * never both see the other still running, and a join's last upstream claims it exactly once.
 */

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';
/** `skipped`: found current when its turn came (another run had made it so); counts as done. */
export type NodeStatus = 'pending' | 'queued' | 'running' | 'succeeded' | 'skipped' | 'failed' | 'canceled';

export type NewRun = {
  /** Who started it, in the caller's words (cli, schedule, …). */
  trigger: string;
  selection: string;
  /** The executor that dispatches its nodes (Executor.kind). */
  executor: string;
  plan: RunPlan;
  config?: Record<string, unknown>;
  /** For an executor that holds the run in its process: how long it stays owned without a heartbeat. */
  leaseSeconds?: number;
  /** Idempotency: when a run with this key exists already, it is returned instead of a new one. */
  runKey?: string;
  /**
   * The run brings nodes up to date (`--missing`, `--stale`, a tick): a node found current when
   * its turn comes — another run materialized it meanwhile — is skipped, not recomputed.
   */
  skipCurrent?: boolean;
};

export type CheckRecord = {
  name: string;
  severity: 'error' | 'warn';
  passed: boolean;
  message?: string;
  metadata?: Record<string, MetadataValue>;
};

export type StartedNode =
  | { state: 'started'; attempt: number; runConfig: Record<string, unknown>; skipCurrent: boolean }
  /** Already succeeded (a job delivered again): nothing to do but make sure the run goes on. */
  | { state: 'done' }
  /** Its run was canceled. */
  | { state: 'canceled' }
  /** Still waiting for upstream nodes (a job that should not exist yet). */
  | { state: 'blocked' }
  /** No such run or node. */
  | { state: 'missing' };

export type NodeSuccess = {
  durationMs: number;
  metadata: AssetMetadata;
  checks: CheckRecord[];
  /** The asset's code version. */
  codeVersion: string;
  /** The upstream partitions whose data versions the node's own is made of. */
  inputs: readonly InputRef[];
  /** What an asset with a source read: its SHA-256 is the node's data version. */
  source?: SourceRead;
  /** Nothing was written: the node was current (why). No materialization is recorded. */
  skipped?: string;
};

/** How an attempt that did not succeed ends: tried again, failed for good, or canceled with its run. */
export type AttemptEnd = 'retrying' | 'failed' | 'canceled';

export type NodeFailure = {
  durationMs: number;
  /** The failure's own message (the node row names the node already). */
  error: string;
  /** The stack of what caused it, for `run ID` and the run page. */
  cause?: string;
  checks: CheckRecord[];
  end: AttemptEnd;
};

/** The node's run was canceled while it ran: its write is rolled back, the node recorded canceled. */
export class RunCanceledError extends PipelineError {}

/**
 * Another attempt took the node over while this one ran (a job handed on by stall detection):
 * this attempt's write is rolled back and it records nothing.
 */
export class NodeSupersededError extends PipelineError {}

/** Run ids as users type them: the first characters are enough. */
export function shortId(runId: string): string {
  return runId.slice(0, 8);
}

export class RunStore {
  constructor(readonly sql: Sql) {}

  /**
   * Records a run and its nodes in one transaction (one statement for any number of nodes), with
   * the nodes that wait for nothing already `queued`: those are what the caller dispatches first.
   */
  async createRun(run: NewRun): Promise<{ runId: string; ready: NodeRef[]; existing: boolean }> {
    const { nodes, partitions } = run.plan;
    const position = new Map(nodes.map((node, index) => [node.id, index]));
    const downstream: number[][] = nodes.map(() => []);
    nodes.forEach((node, index) => {
      for (const up of node.upstream) downstream[position.get(up) ?? -1]?.push(index);
    });
    return this.sql.begin(async (tx) => {
      const [created] = await tx<{ id: string }[]>`
        insert into runs (trigger, selection, executor, partition_from, partition_to, config, status,
          finished_at, lease_until, run_key, skip_current)
        values (${run.trigger}, ${run.selection}, ${run.executor}, ${partitions[0] ?? null},
          ${partitions.at(-1) ?? null}, ${json(run.config ?? {})}::jsonb,
          ${nodes.length === 0 ? 'succeeded' : 'queued'}, ${nodes.length === 0 ? tx`now()` : null},
          ${run.leaseSeconds && nodes.length > 0 ? tx`now() + make_interval(secs => ${run.leaseSeconds})` : null},
          ${run.runKey ?? null}, ${run.skipCurrent ?? false})
        on conflict (run_key) do nothing
        returning id`;
      if (!created) {
        // Another run holds the key (a tick delivered twice): that one is the run.
        const [existing] = await tx<
          { id: string }[]
        >`select id from runs where run_key = ${run.runKey ?? null}`;
        if (!existing) throw new Error('run was not created');
        return { runId: existing.id, ready: [], existing: true };
      }
      if (nodes.length === 0) return { runId: created.id, ready: [], existing: false };
      // Arrays of arrays must be rectangular in PostgreSQL: each node's lists travel as text.
      const ready = await tx<{ asset_key: string; partition_key: string; ready: boolean }[]>`
        insert into run_nodes (run_id, position, asset_key, partition_key, upstream, downstream, waiting, status)
        select ${created.id}, n.position, n.asset_key, n.partition_key, n.upstream::text[],
          n.downstream::int[], n.waiting, case when n.waiting = 0 then 'queued' else 'pending' end
        from unnest(${nodes.map((_, i) => i)}::int[], ${nodes.map((n) => n.assetKey)}::text[],
          ${nodes.map((n) => n.partitionKey)}::text[], ${nodes.map((n) => pgArray(n.upstream))}::text[],
          ${downstream.map(pgArray)}::text[], ${nodes.map((n) => n.upstream.length)}::int[])
          as n(position, asset_key, partition_key, upstream, downstream, waiting)
        returning asset_key, partition_key, (waiting = 0) as ready, position`;
      return { runId: created.id, ready: nodeRefs(ready.filter((row) => row.ready)), existing: false };
    });
  }

  /**
   * An executor takes up a node, in one statement that commits on its own (so `running` is
   * visible): the node becomes `running` with a new attempt. Rarely a second statement follows: the
   * run's first node (or a failed run resumed by a retried job) makes the run `running`, and an
   * attempt a dead executor left `running` is recorded as abandoned (its transaction was rolled
   * back with its connection).
   */
  async startNode(runId: string, node: NodeRef): Promise<StartedNode> {
    const { assetKey, partitionKey } = node;
    // The node row's previous state comes from a locked read of it in the same statement.
    const [row] = await this.sql<
      {
        attempt: number;
        was: NodeStatus;
        started_at: string | null;
        run_status: RunStatus;
        config: Record<string, unknown>;
        skip_current: boolean;
      }[]
    >`
      update run_nodes n set status = 'running', attempts = n.attempts + 1, started_at = now(),
        finished_at = null, duration_ms = null
      from (select status, started_at from run_nodes
            where run_id = ${runId} and asset_key = ${assetKey} and partition_key = ${partitionKey} for update) b,
        runs r
      where n.run_id = ${runId} and n.asset_key = ${assetKey} and n.partition_key = ${partitionKey}
        and r.id = ${runId} and r.status <> 'canceled' and b.status in ('queued', 'running', 'failed')
      returning n.attempts as attempt, b.status as was, b.started_at::text as started_at,
        r.status as run_status, r.config, r.skip_current`;
    if (!row) return this.whyNotStarted(runId, node);
    if (row.was === 'running' || row.run_status === 'queued' || row.run_status === 'failed') {
      await this.sql`
        with abandoned as (
          insert into node_attempts (run_id, asset_key, partition_key, attempt, status, started_at, finished_at, error)
          select ${runId}, ${assetKey}, ${partitionKey}, ${row.attempt - 1}, 'failed',
            coalesce(${row.started_at}::timestamptz, now()), now(),
            'abandoned: its executor stopped before the attempt ended (its transaction was rolled back)'
          where ${row.was} = 'running'
          on conflict do nothing)
        update runs set status = 'running', started_at = coalesce(started_at, now()), finished_at = null, error = null
        where id = ${runId} and status in ('queued', 'failed')`;
    }
    return {
      state: 'started',
      attempt: row.attempt,
      runConfig: row.config ?? {},
      skipCurrent: row.skip_current,
    };
  }

  private async whyNotStarted(runId: string, node: NodeRef): Promise<StartedNode> {
    const [row] = await this.sql<{ run_status: RunStatus; node_status: NodeStatus | null }[]>`
      select r.status as run_status, n.status as node_status from runs r
      left join run_nodes n on n.run_id = r.id and n.asset_key = ${node.assetKey} and n.partition_key = ${node.partitionKey}
      where r.id = ${runId}`;
    if (!row?.node_status) return { state: 'missing' };
    if (row.run_status === 'canceled') {
      // Its job handed on after its executor died mid-attempt: that attempt ends canceled now.
      if (row.node_status === 'running') {
        await this.failNode(runId, node, undefined, {
          durationMs: 0,
          error: 'canceled: its executor stopped before the attempt ended, and its run was canceled',
          checks: [],
          end: 'canceled',
        });
      }
      return { state: 'canceled' };
    }
    if (row.node_status === 'succeeded' || row.node_status === 'skipped') return { state: 'done' };
    return row.node_status === 'pending' ? { state: 'blocked' } : { state: 'canceled' };
  }

  /**
   * The node's attempt succeeded: recorded in the asset's own transaction `tx` just before it
   * commits, with the nodes it unblocked claimed and the run settled — statements sent together,
   * one round trip. Throws (rolling the write back) RunCanceledError when the run was canceled,
   * NodeSupersededError when another attempt took the node over.
   */
  async completeNode(
    tx: TransactionSql,
    runId: string,
    node: NodeRef,
    attempt: number,
    result: NodeSuccess,
  ): Promise<{ ready: NodeRef[]; status: RunStatus }> {
    const { assetKey, partitionKey } = node;
    const metadata = json(result.skipped ? { skipped: result.skipped } : result.metadata);
    const status = result.skipped ? 'skipped' : 'succeeded';
    const [[run], [completed], , [settled]] = await inOrder([
      lockRun(tx, runId),
      tx<{ completed: number; ready: NodeRef[] }[]>`
        with done as (
          update run_nodes set status = ${status}, finished_at = now(), duration_ms = ${result.durationMs},
            metadata = ${metadata}::jsonb, error = null, error_cause = null
          where run_id = ${runId} and asset_key = ${assetKey} and partition_key = ${partitionKey}
            and status = 'running' and attempts = ${attempt}
          returning downstream, started_at),
        attempt as (
          insert into node_attempts (run_id, asset_key, partition_key, attempt, status, started_at, finished_at, duration_ms)
          select ${runId}, ${assetKey}, ${partitionKey}, ${attempt}, ${status}, started_at, now(), ${result.durationMs}
          from done),
        -- The data versions the node read make its own: a source's SHA-256, or a hash of the code
        -- version and what it read.
        ${readVersions(tx, result.inputs)},
        event as (
          insert into materializations (run_id, asset_key, partition_key, duration_ms, metadata, data_version,
            code_version, inputs, source)
          select ${runId}, ${assetKey}, ${partitionKey}, ${result.durationMs}, ${metadata}::jsonb,
            coalesce(${result.source?.sha256 ?? null}::text,
              encode(sha256(convert_to(${result.codeVersion} || ':' || read.list::text, 'UTF8')), 'hex')),
            ${result.codeVersion}, read.list, ${result.source ? json(result.source) : null}::jsonb
          from done, read where ${status} = 'succeeded'),
        -- Row locks in position order, so two completions releasing the same joins never deadlock.
        locked as (
          select n.position from run_nodes n, done
          where n.run_id = ${runId} and n.position = any (done.downstream)
          order by n.position for update of n),
        claimed as (
          update run_nodes n set waiting = n.waiting - 1,
            status = case when n.waiting = 1 and n.status = 'pending' then 'queued' else n.status end
          from locked where n.run_id = ${runId} and n.position = locked.position
          returning n.asset_key, n.partition_key, n.position, n.status)
        select (select count(*)::int from done) as completed,
          coalesce((select json_agg(json_build_object('assetKey', asset_key, 'partitionKey', partition_key)
            order by position) from claimed where status = 'queued'), '[]'::json) as ready`,
      insertChecks(tx, runId, node, result.checks),
      settle(tx, runId),
    ]);
    if (run?.status === 'canceled') throw new RunCanceledError(`run ${shortId(runId)} was canceled`);
    if (!completed?.completed) {
      throw new NodeSupersededError(
        `${idOf(node)} is no longer attempt ${attempt}'s: another attempt took it over`,
      );
    }
    return { ready: completed.ready, status: settled?.status ?? 'running' };
  }

  /**
   * The node's attempt did not succeed: recorded with its checks, and the run settled. Without an
   * `attempt`, whichever attempt is running (one whose executor is gone: a job BullMQ failed for
   * stalling, a canceled run's node left running).
   */
  async failNode(
    runId: string,
    node: NodeRef,
    attempt: number | undefined,
    failure: NodeFailure,
  ): Promise<RunStatus> {
    const { assetKey, partitionKey } = node;
    const nodeStatus = { retrying: 'queued', failed: 'failed', canceled: 'canceled' }[failure.end];
    const attemptStatus = failure.end === 'retrying' ? 'failed' : failure.end;
    return this.sql.begin(async (tx) => {
      const [, , , [settled]] = await inOrder([
        lockRun(tx, runId),
        tx`
          with node as (
            update run_nodes set status = ${nodeStatus}, duration_ms = ${failure.durationMs},
              finished_at = case when ${nodeStatus} = 'queued' then null else now() end,
              error = ${failure.end === 'retrying' ? `attempt ${attempt} failed: ${failure.error}` : failure.error},
              error_cause = ${failure.cause ?? null}
            where run_id = ${runId} and asset_key = ${assetKey} and partition_key = ${partitionKey}
              and status = 'running' and attempts = coalesce(${attempt ?? null}::int, attempts)
            returning attempts, started_at)
          insert into node_attempts (run_id, asset_key, partition_key, attempt, status, started_at, finished_at,
            duration_ms, error, error_cause)
          select ${runId}, ${assetKey}, ${partitionKey}, attempts, ${attemptStatus}, started_at, now(),
            ${failure.durationMs}, ${failure.error}, ${failure.cause ?? null}
          from node
          on conflict do nothing`,
        insertChecks(tx, runId, node, failure.checks),
        settle(tx, runId),
      ]);
      return settled?.status ?? 'running';
    });
  }

  /** The run's `queued` nodes, in plan order: what a resumed run hands to its executor again. */
  async queuedNodes(runId: string): Promise<NodeRef[]> {
    const rows = await this.sql<{ asset_key: string; partition_key: string }[]>`
      select asset_key, partition_key from run_nodes
      where run_id = ${runId} and status = 'queued' order by position`;
    return nodeRefs(rows);
  }

  /**
   * Re-execute from failure: the run's failed and canceled nodes go back to `pending`, those with
   * nothing left to wait for are claimed (returned, to dispatch) and the run is `running` again,
   * now on `executor`. Earlier attempts and their errors stay in node_attempts.
   */
  async reexecute(runId: string, executor: string, leaseSeconds?: number): Promise<NodeRef[]> {
    return this.sql.begin(async (tx) => {
      const status = await lockedStatus(tx, runId);
      if (status === undefined) throw new UsageError(`no run ${runId}`);
      if (status === 'queued' || status === 'running') {
        throw new UsageError(`run ${shortId(runId)} is still ${status}: re-execute it once it has ended`);
      }
      const [running] = await tx<{ n: number }[]>`
        select count(*)::int as n from run_nodes where run_id = ${runId} and status = 'running'`;
      if (running?.n) {
        throw new UsageError(
          `run ${shortId(runId)} ${status} but ${running.n} of its nodes are still running: their executor is stopping them ` +
            '(a node whose executor died is settled when its lease passes, or when another worker takes its job up); re-execute it then',
        );
      }
      const reset = await tx`
        update run_nodes set status = 'pending', error = null, error_cause = null, finished_at = null
        where run_id = ${runId} and status in ('failed', 'canceled')`;
      if (reset.count === 0) {
        throw new UsageError(`run ${shortId(runId)} ${status} with no failed node: nothing to re-execute`);
      }
      const ready = await tx<{ asset_key: string; partition_key: string; position: number }[]>`
        update run_nodes set status = 'queued'
        where run_id = ${runId} and status = 'pending' and waiting = 0
        returning asset_key, partition_key, position`;
      await tx`
        update runs set status = 'running', executor = ${executor}, finished_at = null, error = null,
          lease_until = ${leaseSeconds ? tx`now() + make_interval(secs => ${leaseSeconds})` : null}
        where id = ${runId}`;
      return nodeRefs([...ready].sort((a, b) => a.position - b.position));
    });
  }

  /**
   * Cancels a run that has not ended: its pending and queued nodes become `canceled` and the run
   * `canceled`. Running nodes are aborted by their executors, which watch for this (their
   * transactions roll back) and record them canceled. Returns how many were running.
   */
  async cancel(runId: string, reason: string): Promise<{ running: number }> {
    return this.sql.begin(async (tx) => {
      const status = await lockedStatus(tx, runId);
      if (status === undefined) throw new UsageError(`no run ${runId}`);
      if (status !== 'queued' && status !== 'running') {
        throw new UsageError(`run ${shortId(runId)} has already ended (${status}): nothing to cancel`);
      }
      await tx`
        update run_nodes set status = 'canceled', error = ${reason}, finished_at = now()
        where run_id = ${runId} and status in ('pending', 'queued')`;
      await tx`update runs set status = 'canceled', error = ${reason}, finished_at = now() where id = ${runId}`;
      const [row] = await tx<{ running: number }[]>`
        select count(*)::int as running from run_nodes where run_id = ${runId} and status = 'running'`;
      return { running: row?.running ?? 0 };
    });
  }

  /**
   * An executor holding runs in its process says it is alive: their leases are extended, and it
   * learns each one's status (to abort the nodes of a run canceled meanwhile).
   */
  async heartbeat(runIds: readonly string[], leaseSeconds: number): Promise<Map<string, RunStatus>> {
    if (runIds.length === 0) return new Map();
    const rows = await this.sql<{ id: string; status: RunStatus }[]>`
      with extended as (
        update runs set lease_until = now() + make_interval(secs => ${leaseSeconds})
        where id = any (${runIds as string[]}::uuid[]) and lease_until is not null
        returning id)
      select id, status from runs where id = any (${runIds as string[]}::uuid[])`;
    return new Map(rows.map((row) => [row.id, row.status]));
  }

  /**
   * Whether the node is current — so a run that skips current nodes need not recompute it: its
   * latest materialization has this code version, read exactly the data versions its inputs have
   * now, and (for an asset with a source) loaded the fingerprint its source has now. Asked inside
   * the node's transaction, under its lock, so a run that materialized it meanwhile is seen.
   * Returns what made it current, or undefined.
   */
  async currentMaterialization(
    tx: TransactionSql,
    node: NodeRef,
    wanted: { codeVersion: string; inputs: readonly InputRef[]; sourceFingerprint?: string | null },
  ): Promise<{ runId: string; materializedAt: Date } | undefined> {
    const fingerprint = wanted.sourceFingerprint;
    const [row] = await tx<{ run_id: string; materialized_at: string }[]>`
      with ${readVersions(tx, wanted.inputs)},
      latest as (
        select run_id, materialized_at, code_version, inputs, source from materializations
        where asset_key = ${node.assetKey} and partition_key = ${node.partitionKey}
        order by materialized_at desc, id desc limit 1)
      select l.run_id, l.materialized_at::text from latest l, read
      where l.code_version = ${wanted.codeVersion} and l.inputs = read.list
        and (${fingerprint === undefined} or l.source->>'fingerprint' = ${fingerprint ?? null}::text)`;
    return row ? { runId: row.run_id, materializedAt: new Date(row.materialized_at) } : undefined;
  }

  /** The run started with this key, if any. */
  async runWithKey(runKey: string): Promise<string | undefined> {
    const [row] = await this.sql<{ id: string }[]>`select id from runs where run_key = ${runKey}`;
    return row?.id;
  }

  async runStatus(runId: string): Promise<RunStatus> {
    const [row] = await this.sql<{ status: RunStatus }[]>`select status from runs where id = ${runId}`;
    if (!row) throw new Error(`run ${runId} disappeared`);
    return row.status;
  }

  /** The executor let go of the run (it ended, or it was canceled and its nodes settled). */
  async releaseLease(runId: string): Promise<void> {
    // A run that has not ended keeps its lease: with nobody running it, it will be found lost.
    await this
      .sql`update runs set lease_until = null where id = ${runId} and status not in ('queued', 'running')`;
  }

  /** Of these runs, the ones canceled: their running nodes are to be aborted. */
  async canceledRuns(runIds: readonly string[]): Promise<string[]> {
    if (runIds.length === 0) return [];
    const rows = await this.sql<{ id: string }[]>`
      select id from runs where id = any (${runIds as string[]}::uuid[]) and status = 'canceled'`;
    return rows.map((row) => row.id);
  }

  /**
   * Runs whose executor went silent (its lease passed: a CLI killed mid-run) are marked failed,
   * "executor lost", by whichever process looks next: their running nodes fail (retryable with a
   * re-execution), their queued ones go back to pending. A canceled run's leftover running nodes
   * become canceled. Returns the ids of the runs it failed.
   */
  async reapLostRuns(): Promise<string[]> {
    const [lost] = await this.sql<{ failed: string[] }[]>`
      with expired as (
        select id, status from runs where lease_until is not null and lease_until < now() for update skip locked),
      failed as (
        update runs r set status = 'failed', finished_at = now(), lease_until = null,
          error = 'executor lost: the process running it stopped (its lease expired at ' || to_char(r.lease_until at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC)'
        from expired e where r.id = e.id and e.status in ('queued', 'running')
        returning r.id),
      released as (
        update runs r set lease_until = null from expired e where r.id = e.id and e.status not in ('queued', 'running')),
      nodes as (
        update run_nodes n set
          status = case when e.status = 'canceled' then 'canceled' when n.status = 'running' then 'failed' else 'pending' end,
          error = case when n.status = 'running' and e.status <> 'canceled' then 'executor lost: the process running this node stopped' when e.status = 'canceled' then n.error end,
          finished_at = case when n.status = 'running' then now() end
        from expired e where n.run_id = e.id and n.status in ('running', 'queued')
        returning n.run_id, n.asset_key, n.partition_key, n.attempts, n.started_at, n.status),
      attempts as (
        insert into node_attempts (run_id, asset_key, partition_key, attempt, status, started_at, finished_at, error)
        select run_id, asset_key, partition_key, attempts, status, started_at, now(),
          'executor lost: the process running this attempt stopped'
        from nodes where status in ('failed', 'canceled') and started_at is not null and attempts > 0
        on conflict do nothing)
      select coalesce(array_agg(id), '{}') as failed from failed`;
    return lost?.failed ?? [];
  }
}

/**
 * Sends statements of one transaction together (one round trip) and strictly in this order:
 * postgres.js runs a query when it is first awaited, so awaiting them with Promise.all alone would
 * leave the order to the microtask queue — and the run's row must be locked before any statement
 * takes a lighter lock on it (a foreign key's), or two transactions deadlock upgrading theirs.
 */
function inOrder<T extends readonly (PromiseLike<unknown> & { execute: () => unknown })[]>(
  queries: [...T],
): Promise<{ [K in keyof T]: Awaited<T[K]> }> {
  for (const query of queries) query.execute();
  return Promise.all(queries) as Promise<{ [K in keyof T]: Awaited<T[K]> }>;
}

/** Locks the run's row for this transaction (serializing its settlements); its status, if it exists. */
function lockRun(tx: TransactionSql, runId: string) {
  return tx<{ status: RunStatus }[]>`select status from runs where id = ${runId} for update`;
}

async function lockedStatus(tx: TransactionSql, runId: string): Promise<RunStatus | undefined> {
  const [row] = await lockRun(tx, runId);
  return row?.status;
}

/**
 * The run's status from its nodes (the caller holds the run's lock): succeeded when every node
 * did; failed once nothing is queued or running and a node failed (its downstream stays pending);
 * else running. A canceled run stays canceled. Written only when it changes.
 */
function settle(tx: TransactionSql, runId: string) {
  return tx<{ status: RunStatus }[]>`
    with verdict as (
      select case
        when not exists (select 1 from run_nodes where run_id = ${runId} and status not in ('succeeded', 'skipped')) then 'succeeded'
        when exists (select 1 from run_nodes where run_id = ${runId} and status in ('queued', 'running')) then 'running'
        when exists (select 1 from run_nodes where run_id = ${runId} and status = 'failed') then 'failed'
        else 'running' end as status),
    changed as (
      update runs r set status = v.status,
        finished_at = case when v.status in ('succeeded', 'failed') then now() end,
        error = case when v.status = 'succeeded' then null else r.error end,
        lease_until = case when v.status in ('succeeded', 'failed') then null else r.lease_until end
      from verdict v where r.id = ${runId} and r.status <> 'canceled' and r.status <> v.status
      returning r.status)
    select coalesce((select status from changed), (select status from runs where id = ${runId})) as status`;
}

/**
 * The CTEs `wanted`, `versions` and `read`: the latest data version of every input partition (a
 * null partition: every partition of that asset), as the one list `read.list` a materialization
 * records — `[[asset, partition, version], …]` in key order.
 */
function readVersions(tx: TransactionSql, inputs: readonly InputRef[]) {
  return tx`
    wanted as (
      select * from unnest(${inputs.map((i) => i.assetKey)}::text[], ${inputs.map((i) => i.partitionKey)}::text[])
        as w(asset_key, partition_key)),
    versions as (
      select distinct on (m.asset_key, m.partition_key) m.asset_key, m.partition_key, m.data_version
      from materializations m join wanted w on m.asset_key = w.asset_key
        and (w.partition_key is null or m.partition_key = w.partition_key)
      order by m.asset_key, m.partition_key, m.materialized_at desc, m.id desc),
    read as (
      select coalesce(jsonb_agg(jsonb_build_array(asset_key, partition_key, data_version)
        order by asset_key, partition_key), '[]'::jsonb) as list from versions)`;
}

function insertChecks(tx: TransactionSql, runId: string, node: NodeRef, checks: CheckRecord[]) {
  if (checks.length === 0) return tx`select`;
  const rows = checks.map((check) => ({
    name: check.name,
    severity: check.severity,
    passed: check.passed,
    message: check.message ?? null,
    metadata: check.metadata ?? null,
  }));
  return tx`
    insert into check_results (run_id, asset_key, partition_key, check_name, severity, passed, message, metadata)
    select ${runId}, ${node.assetKey}, ${node.partitionKey}, c.name, c.severity, c.passed, c.message, c.metadata
    from jsonb_to_recordset(${json(rows)}::jsonb) as c(name text, severity text, passed boolean, message text, metadata jsonb)`;
}

function nodeRefs(rows: readonly { asset_key: string; partition_key: string }[]): NodeRef[] {
  return rows.map((row) => ({ assetKey: row.asset_key, partitionKey: row.partition_key }));
}

/** A PostgreSQL array literal of text or numbers (quoted, so any text survives). */
function pgArray(values: readonly (string | number)[]): string {
  return `{${values.map((v) => (typeof v === 'number' ? String(v) : `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`)).join(',')}}`;
}

/**
 * JSON travels as text cast to jsonb: the pool is shared with Drizzle, which turns postgres.js's
 * own json serializers off (and Date ones: timestamps are written with now() in SQL).
 */
function json(value: unknown): string {
  return JSON.stringify(value);
}
