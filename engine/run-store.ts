import { and, count, desc, eq, inArray, sql } from 'drizzle-orm';
import { checkResults, materializations, runNodes, runs } from '../schema/engine.ts';
import type { AssetMetadata, MetadataValue } from './asset.ts';
import type { Db } from './database.ts';
import type { PlanNode, RunPlan } from './plan.ts';

export type RunTrigger = 'cli' | 'schedule' | 'dashboard' | 'demo';
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';
export type NodeStatus = 'pending' | 'queued' | 'running' | 'succeeded' | 'failed' | 'skipped';
export type Executor = 'in-process' | 'bullmq';

export type NewRun = {
  trigger: RunTrigger;
  selection: string;
  executor: Executor;
  plan: RunPlan;
  config?: Record<string, unknown>;
};

export type CheckRecord = {
  name: string;
  severity: 'error' | 'warn';
  passed: boolean;
  message?: string;
  metadata?: Record<string, MetadataValue>;
};

export type NodeRef = Pick<PlanNode, 'assetKey' | 'partitionKey'>;

export type RunRow = typeof runs.$inferSelect;
export type RunNodeRow = typeof runNodes.$inferSelect;
export type CheckResultRow = typeof checkResults.$inferSelect;
export type RunSummaryRow = RunRow & { nodeCounts: Partial<Record<NodeStatus, number>> };

/** Only the two key columns: a PlanNode also carries its id, which must not reach an insert. */
const nodeKey = (node: NodeRef) => ({ assetKey: node.assetKey, partitionKey: node.partitionKey });

const nodeWhere = (runId: string, node: NodeRef) =>
  and(
    eq(runNodes.runId, runId),
    eq(runNodes.assetKey, node.assetKey),
    eq(runNodes.partitionKey, node.partitionKey),
  );

/** Run history in Postgres: runs, their nodes, materialization events and check results. */
export class RunStore {
  constructor(private readonly db: Db) {}

  async createRun(run: NewRun): Promise<string> {
    const partitions = run.plan.partitions;
    return this.db.transaction(async (tx) => {
      const [created] = await tx
        .insert(runs)
        .values({
          trigger: run.trigger,
          selection: run.selection,
          executor: run.executor,
          partitionFrom: partitions[0] ?? null,
          partitionTo: partitions[partitions.length - 1] ?? null,
          config: run.config ?? {},
        })
        .returning({ id: runs.id });
      if (!created) throw new Error('run was not created');
      if (run.plan.nodes.length > 0) {
        await tx.insert(runNodes).values(
          run.plan.nodes.map((node, position) => ({
            runId: created.id,
            position,
            assetKey: node.assetKey,
            partitionKey: node.partitionKey,
            upstream: node.upstream,
          })),
        );
      }
      return created.id;
    });
  }

  async markRunStarted(runId: string): Promise<void> {
    await this.db
      .update(runs)
      .set({ status: 'running', startedAt: sql`coalesce(${runs.startedAt}, now())` })
      .where(eq(runs.id, runId));
  }

  async markNodeRunning(runId: string, node: NodeRef, attempt: number): Promise<void> {
    await this.db
      .update(runNodes)
      .set({ status: 'running', attempts: attempt, startedAt: sql`now()`, error: null, errorCause: null })
      .where(nodeWhere(runId, node));
  }

  /** Marks the node done and records the materialization event, atomically. */
  async markNodeSucceeded(
    runId: string,
    node: NodeRef,
    durationMs: number,
    metadata: AssetMetadata,
  ): Promise<void> {
    await this.db.transaction((tx) => recordSuccess(tx, runId, node, durationMs, metadata));
  }

  async markNodeFailed(
    runId: string,
    node: NodeRef,
    failure: { durationMs: number; error: string; cause?: string },
  ): Promise<void> {
    await recordFailure(this.db, runId, node, failure);
  }

  /** The run's nodes in one status, in plan order. */
  async nodesWithStatus(runId: string, status: NodeStatus): Promise<NodeRef[]> {
    return this.db
      .select({ assetKey: runNodes.assetKey, partitionKey: runNodes.partitionKey })
      .from(runNodes)
      .where(and(eq(runNodes.runId, runId), eq(runNodes.status, status)))
      .orderBy(runNodes.position);
  }

  /** The run a scheduler tick started, if it started one (ticks may be delivered twice). */
  async findRunByTick(tickId: string): Promise<string | undefined> {
    const [row] = await this.db
      .select({ id: runs.id })
      .from(runs)
      .where(and(eq(runs.trigger, 'schedule'), sql`${runs.config}->>'tickId' = ${tickId}`))
      .limit(1);
    return row?.id;
  }

  /** A failed attempt that will be tried again: the node waits in the queue, its error shown. */
  async markNodeRetrying(runId: string, node: NodeRef, error: string): Promise<void> {
    await this.db.update(runNodes).set({ status: 'queued', error }).where(nodeWhere(runId, node));
  }

  /**
   * Moves to `queued` every pending node whose upstream nodes all succeeded, and returns them:
   * the nodes to hand to workers now. Completions of one run are serialized on the run's row, and
   * each claim runs after its own node's success committed, so the last of two upstream nodes
   * finishing at once always sees both done (a diamond is never stuck), and a node is claimed once.
   */
  async claimReadyNodes(runId: string): Promise<NodeRef[]> {
    return this.db.transaction(async (tx) => {
      await lockRun(tx, runId);
      return claimReady(tx, runId);
    });
  }

  /**
   * The run's status from its nodes, for runs whose nodes progress on their own (workers):
   * succeeded when every node did; failed once nothing is queued or running and a node failed
   * (its downstream stays pending, so retrying the failed node resumes the run); else running.
   * Settlements of one run are serialized on the run's row: otherwise two nodes finishing at once
   * could each count the other as still running, and the earlier count's 'running' could land
   * after the later one's verdict, leaving a finished run 'running' for ever.
   */
  async settleRun(runId: string): Promise<RunStatus> {
    return this.db.transaction(async (tx) => {
      await lockRun(tx, runId);
      return settle(tx, runId);
    });
  }

  /**
   * A worker takes up a node, in one statement: the run becomes 'running' (a failed run resumed
   * by a retry included), the node 'running' with this attempt. Answers 'done' when the node had
   * already succeeded (a job delivered again) and 'missing' when the run has no such node.
   */
  async startNode(
    runId: string,
    node: NodeRef,
    attempt: number,
  ): Promise<
    { state: 'started'; runConfig: Record<string, unknown> } | { state: 'done' } | { state: 'missing' }
  > {
    const [row] = await this.db.execute<{
      config: Record<string, unknown> | null;
      started: boolean;
      known: boolean;
    }>(sql`
      with node as (
        update run_nodes set status = 'running', attempts = ${attempt}, started_at = now(), error = null, error_cause = null
        where run_id = ${runId} and asset_key = ${node.assetKey} and partition_key = ${node.partitionKey}
          and status <> 'succeeded'
        returning 1),
      run as (
        update runs set status = 'running', started_at = coalesce(started_at, now()), finished_at = null
        where id = ${runId} and status not in ('running', 'canceled') and exists (select 1 from node)
        returning 1)
      select (select config from runs where id = ${runId}) as config,
        exists (select 1 from node) as started,
        exists (select 1 from run_nodes where run_id = ${runId} and asset_key = ${node.assetKey}
          and partition_key = ${node.partitionKey}) as known`);
    if (!row?.known) return { state: 'missing' };
    if (!row.started) return { state: 'done' };
    return { state: 'started', runConfig: row.config ?? {} };
  }

  /**
   * A node succeeded, in one transaction serialized on the run: the node and its materialization
   * and checks are recorded, the nodes it unblocked are claimed (returned, to enqueue) and, when
   * none were, the run is settled.
   */
  async completeNode(
    runId: string,
    node: NodeRef,
    result: { durationMs: number; metadata: AssetMetadata; checks: CheckRecord[] },
  ): Promise<{ ready: NodeRef[]; status: RunStatus }> {
    return this.db.transaction(async (tx) => {
      await lockRun(tx, runId);
      await recordSuccess(tx, runId, node, result.durationMs, result.metadata);
      await insertChecks(tx, runId, node, result.checks);
      const ready = await claimReady(tx, runId);
      return { ready, status: ready.length > 0 ? 'running' : await settle(tx, runId) };
    });
  }

  /** A node failed for good: recorded with its checks, and the run settled, in one transaction. */
  async failNode(
    runId: string,
    node: NodeRef,
    failure: { durationMs: number; error: string; cause?: string; checks: CheckRecord[] },
  ): Promise<RunStatus> {
    return this.db.transaction(async (tx) => {
      await lockRun(tx, runId);
      await recordFailure(tx, runId, node, failure);
      await insertChecks(tx, runId, node, failure.checks);
      return settle(tx, runId);
    });
  }

  async markNodesSkipped(runId: string, nodes: NodeRef[], reason: string): Promise<void> {
    for (const node of nodes) {
      await this.db
        .update(runNodes)
        .set({ status: 'skipped', error: reason, finishedAt: sql`now()` })
        .where(and(nodeWhere(runId, node), eq(runNodes.status, 'pending')));
    }
  }

  async recordChecks(runId: string, node: NodeRef, checks: CheckRecord[]): Promise<void> {
    await insertChecks(this.db, runId, node, checks);
  }

  /** Settles the run's status from its nodes: succeeded only if every node succeeded. */
  async finishRun(runId: string, options: { canceled?: boolean; error?: string } = {}): Promise<RunStatus> {
    const nodes = await this.db
      .select({ status: runNodes.status, n: count() })
      .from(runNodes)
      .where(eq(runNodes.runId, runId))
      .groupBy(runNodes.status);
    const allSucceeded = nodes.every((row) => row.status === 'succeeded');
    const status: RunStatus = options.canceled ? 'canceled' : allSucceeded ? 'succeeded' : 'failed';
    await this.db
      .update(runs)
      .set({ status, finishedAt: sql`now()`, error: options.error ?? null })
      .where(eq(runs.id, runId));
    return status;
  }

  async getRun(
    runId: string,
  ): Promise<{ run: RunRow; nodes: RunNodeRow[]; checks: CheckResultRow[] } | undefined> {
    const [run] = await this.db.select().from(runs).where(eq(runs.id, runId));
    if (!run) return undefined;
    const nodes = await this.db
      .select()
      .from(runNodes)
      .where(eq(runNodes.runId, runId))
      .orderBy(runNodes.position);
    const checks = await this.db
      .select()
      .from(checkResults)
      .where(eq(checkResults.runId, runId))
      .orderBy(checkResults.id);
    return { run, nodes, checks };
  }

  /** Runs whose id starts with `prefix` (users type the first 8 characters). */
  async findRunIds(prefix: string): Promise<string[]> {
    if (!/^[0-9a-f-]{1,36}$/i.test(prefix)) return [];
    const rows = await this.db
      .select({ id: runs.id })
      .from(runs)
      .where(sql`${runs.id}::text like ${`${prefix.toLowerCase()}%`}`)
      .limit(2);
    return rows.map((row) => row.id);
  }

  async listRuns(limit = 50, offset = 0): Promise<RunSummaryRow[]> {
    const recent = await this.db
      .select()
      .from(runs)
      .orderBy(desc(runs.createdAt), desc(runs.id))
      .limit(limit)
      .offset(offset);
    if (recent.length === 0) return [];
    const counts = await this.db
      .select({ runId: runNodes.runId, status: runNodes.status, n: count() })
      .from(runNodes)
      .where(
        inArray(
          runNodes.runId,
          recent.map((run) => run.id),
        ),
      )
      .groupBy(runNodes.runId, runNodes.status);
    return recent.map((run) => ({
      ...run,
      nodeCounts: Object.fromEntries(
        counts.filter((c) => c.runId === run.id).map((c) => [c.status as NodeStatus, c.n]),
      ),
    }));
  }

  /** The latest materialization of each asset (any partition). */
  async lastMaterializations(): Promise<Map<string, typeof materializations.$inferSelect>> {
    const rows = await this.db
      .selectDistinctOn([materializations.assetKey])
      .from(materializations)
      .orderBy(materializations.assetKey, desc(materializations.materializedAt), desc(materializations.id));
    return new Map(rows.map((row) => [row.assetKey, row]));
  }
}

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** Serializes the completions of one run (claims and settlements read each other's writes). */
async function lockRun(tx: Tx, runId: string): Promise<void> {
  await tx.execute(sql`select 1 from ${runs} where ${runs.id} = ${runId} for update`);
}

/**
 * Moves to `queued` every pending node whose upstream nodes all succeeded and returns them, in
 * plan order. The caller holds the run's lock and runs this after its own node's success, so the
 * last of two branches to finish always sees both done (a diamond's join is claimed once).
 */
async function claimReady(tx: Tx, runId: string): Promise<NodeRef[]> {
  const claimed = await tx.execute<{ asset_key: string; partition_key: string; position: number }>(sql`
    update run_nodes n set status = 'queued'
    where n.run_id = ${runId} and n.status = 'pending'
      and not exists (
        select 1 from unnest(n.upstream) as u(id)
        left join run_nodes m on m.run_id = n.run_id
          and u.id = case when m.partition_key = '' then m.asset_key
                          else m.asset_key || '[' || m.partition_key || ']' end
        where m.status is distinct from 'succeeded')
    returning n.asset_key, n.partition_key, n.position`);
  return [...claimed]
    .sort((a, b) => a.position - b.position)
    .map((row) => ({ assetKey: row.asset_key, partitionKey: row.partition_key }));
}

/**
 * The run's status from its nodes (the caller holds the run's lock): succeeded when every node
 * did; failed once nothing is queued or running and a node failed (its downstream stays pending,
 * so retrying the failed node resumes the run); else running.
 */
async function settle(tx: Tx, runId: string): Promise<RunStatus> {
  const [counts] = await tx
    .select({
      unfinished: sql<number>`count(*) filter (where ${runNodes.status} <> 'succeeded')`.mapWith(Number),
      active: sql<number>`count(*) filter (where ${runNodes.status} in ('queued', 'running'))`.mapWith(
        Number,
      ),
      failed: sql<number>`count(*) filter (where ${runNodes.status} = 'failed')`.mapWith(Number),
    })
    .from(runNodes)
    .where(eq(runNodes.runId, runId));
  const finished: RunStatus | undefined =
    !counts || counts.unfinished === 0
      ? 'succeeded'
      : counts.active === 0 && counts.failed > 0
        ? 'failed'
        : undefined;
  if (finished) {
    await tx
      .update(runs)
      .set({ status: finished, finishedAt: sql`now()`, error: null })
      .where(eq(runs.id, runId));
    return finished;
  }
  await tx
    .update(runs)
    .set({ status: 'running', finishedAt: null })
    .where(and(eq(runs.id, runId), sql`${runs.status} not in ('running', 'canceled')`));
  return 'running';
}

async function insertChecks(db: Db | Tx, runId: string, node: NodeRef, checks: CheckRecord[]): Promise<void> {
  if (checks.length === 0) return;
  await db.insert(checkResults).values(
    checks.map((check) => ({
      runId,
      ...nodeKey(node),
      checkName: check.name,
      severity: check.severity,
      passed: check.passed,
      message: check.message ?? null,
      metadata: check.metadata ?? null,
    })),
  );
}

/** The node succeeded: its row and its materialization event (the caller's transaction). */
async function recordSuccess(
  tx: Tx,
  runId: string,
  node: NodeRef,
  durationMs: number,
  metadata: AssetMetadata,
) {
  await tx
    .update(runNodes)
    .set({ status: 'succeeded', finishedAt: sql`now()`, durationMs, metadata })
    .where(nodeWhere(runId, node));
  await tx.insert(materializations).values({ runId, ...nodeKey(node), durationMs, metadata });
}

async function recordFailure(
  db: Db | Tx,
  runId: string,
  node: NodeRef,
  failure: { durationMs: number; error: string; cause?: string },
) {
  await db
    .update(runNodes)
    .set({
      status: 'failed',
      finishedAt: sql`now()`,
      durationMs: failure.durationMs,
      error: failure.error,
      errorCause: failure.cause ?? null,
    })
    .where(nodeWhere(runId, node));
}
