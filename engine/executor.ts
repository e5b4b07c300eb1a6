import { setTimeout as sleep } from 'node:timers/promises';
import type { AssetMetadata } from './asset.ts';
import type { Database } from './database.ts';
import { UsageError } from './errors.ts';
import type { AssetGraph } from './graph.ts';
import type { Logger } from './logger.ts';
import { materializeNode } from './materialize-node.ts';
import type { PlanNode, RunPlan } from './plan.ts';
import type { CheckRecord, RunStatus, RunStore } from './run-store.ts';

export type RunEvent =
  | { type: 'started'; node: PlanNode; attempt: number }
  | { type: 'succeeded'; node: PlanNode; durationMs: number; metadata: AssetMetadata; checks: CheckRecord[] }
  | { type: 'retrying'; node: PlanNode; attempt: number; delayMs: number; reason: string }
  | { type: 'failed'; node: PlanNode; durationMs: number; reason: string; checks: CheckRecord[] }
  | { type: 'skipped'; node: PlanNode; reason: string };

export type ExecuteOptions<Config> = {
  database: Database;
  store: RunStore;
  graph: AssetGraph<Config>;
  plan: RunPlan;
  runId: string;
  config: Config;
  logger: Logger;
  /** Nodes materializing at once. */
  concurrency: number;
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
};

export type RunResult = {
  status: RunStatus;
  succeeded: number;
  failed: number;
  skipped: number;
  pending: number;
};

/**
 * Runs a plan in this process: every ready node (all upstream done) starts, up to `concurrency`
 * at a time; a failure skips its downstream only, and independent branches go on.
 */
export async function executeInProcess<Config>(options: ExecuteOptions<Config>): Promise<RunResult> {
  const { plan, store, runId } = options;
  const poolSize = options.database.sql.options.max;
  if (options.concurrency >= poolSize) {
    // Each running node holds a pooled connection for its transaction; the store needs one more.
    throw new UsageError(
      `concurrency ${options.concurrency} needs a database pool larger than its ${poolSize} connections`,
    );
  }
  const signal = options.signal ?? new AbortController().signal;
  const byId = new Map(plan.nodes.map((node) => [node.id, node]));
  const dependants = new Map<string, string[]>(plan.nodes.map((node) => [node.id, []]));
  const waitingOn = new Map<string, number>();
  for (const node of plan.nodes) {
    waitingOn.set(node.id, node.upstream.length);
    for (const up of node.upstream) dependants.get(up)?.push(node.id);
  }
  const counts = { succeeded: 0, failed: 0, skipped: 0 };
  const ready = plan.nodes.filter((node) => node.upstream.length === 0);
  const running = new Set<Promise<void>>();

  const skipDownstream = async (failed: PlanNode) => {
    const reason = `skipped: upstream ${failed.id} failed`;
    const pending = [...(dependants.get(failed.id) ?? [])];
    const skipped: PlanNode[] = [];
    for (let id = pending.pop(); id !== undefined; id = pending.pop()) {
      const node = byId.get(id);
      if (!node || waitingOn.get(id) === -1) continue;
      waitingOn.set(id, -1); // never becomes ready
      skipped.push(node);
      pending.push(...(dependants.get(id) ?? []));
    }
    await store.markNodesSkipped(runId, skipped, reason);
    counts.skipped += skipped.length;
    for (const node of skipped) options.onEvent?.({ type: 'skipped', node, reason });
  };

  const runNode = async (node: PlanNode) => {
    const definition = options.graph.get(node.assetKey);
    for (let attempt = 1; ; attempt++) {
      await store.markNodeRunning(runId, node, attempt);
      options.onEvent?.({ type: 'started', node, attempt });
      const outcome = await materializeNode({ ...options, definition, node, signal });
      await store.recordChecks(runId, node, outcome.checks);
      if (outcome.ok) {
        await store.markNodeSucceeded(runId, node, Math.round(outcome.durationMs), outcome.metadata);
        counts.succeeded++;
        options.onEvent?.({ type: 'succeeded', node, ...outcome });
        for (const id of dependants.get(node.id) ?? []) {
          const remaining = (waitingOn.get(id) ?? 0) - 1;
          waitingOn.set(id, remaining);
          const dependant = byId.get(id);
          if (remaining === 0 && dependant) ready.push(dependant);
        }
        return;
      }
      if (outcome.retryable && attempt < definition.retry.attempts) {
        const delayMs = definition.retry.backoffMs * 2 ** (attempt - 1);
        options.onEvent?.({ type: 'retrying', node, attempt, delayMs, reason: outcome.reason });
        await sleep(delayMs, undefined, { signal }).catch(() => {});
        if (!signal.aborted) continue;
      }
      const cause =
        outcome.error.cause instanceof Error ? outcome.error.cause.stack : String(outcome.error.cause);
      // The node row names the node already: store the reason itself, and the stack as its cause.
      await store.markNodeFailed(runId, node, {
        durationMs: Math.round(outcome.durationMs),
        error: outcome.reason,
        cause,
      });
      counts.failed++;
      options.onEvent?.({
        type: 'failed',
        node,
        durationMs: outcome.durationMs,
        reason: outcome.reason,
        checks: outcome.checks,
      });
      await skipDownstream(node);
      return;
    }
  };

  await store.markRunStarted(runId);
  try {
    while ((ready.length > 0 || running.size > 0) && !signal.aborted) {
      while (ready.length > 0 && running.size < options.concurrency && !signal.aborted) {
        const node = ready.shift() as PlanNode;
        const task: Promise<void> = runNode(node).finally(() => running.delete(task));
        running.add(task);
      }
      if (running.size > 0) await Promise.race(running);
    }
    await Promise.all(running);
  } catch (error) {
    // The run store itself failed (e.g. Postgres went away): settle the run if we still can.
    await Promise.allSettled(running);
    await store.finishRun(runId, { error: `executor stopped: ${(error as Error).message}` }).catch(() => {});
    throw error;
  }
  const status = await store.finishRun(runId, { canceled: signal.aborted });
  const pending = plan.nodes.length - counts.succeeded - counts.failed - counts.skipped;
  return { status, ...counts, pending };
}
