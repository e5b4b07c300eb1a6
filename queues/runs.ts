import type { Queue } from 'bullmq';
import type { AssetGraph } from '../engine/graph.ts';
import type { RunPlan } from '../engine/plan.ts';
import type { RunStore, RunTrigger } from '../engine/run-store.ts';
import type { AssetJobData } from './catalog.ts';
import { enqueueNodes } from './queues.ts';

/**
 * Starts a run on the workers: records it with its nodes in Postgres (the run's state lives
 * there, not in Redis), then enqueues the nodes that have no upstream in the run. Workers enqueue
 * the rest as their dependencies complete.
 */
export async function startQueuedRun<Config>(options: {
  store: RunStore;
  queue: Queue<AssetJobData>;
  graph: AssetGraph<Config>;
  plan: RunPlan;
  trigger: RunTrigger;
  selection: string;
  config?: Record<string, unknown>;
}): Promise<string> {
  const { store, plan } = options;
  const runId = await store.createRun({
    trigger: options.trigger,
    selection: options.selection,
    executor: 'bullmq',
    plan,
    config: options.config,
  });
  const ready = await store.claimReadyNodes(runId);
  await enqueueNodes(options.queue, options.graph, runId, ready);
  if (plan.nodes.length === 0) await store.finishRun(runId);
  return runId;
}
