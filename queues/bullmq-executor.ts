import type { Queue } from 'bullmq';
import type { Executor } from '../engine/executor.ts';
import type { AssetGraph } from '../engine/graph.ts';
import type { NodeRef } from '../engine/node.ts';
import { type AssetJobData, assetJobData, assetJobId } from './catalog.ts';
import { enqueueNodes } from './queues.ts';

/**
 * Runs nodes on BullMQ workers (any number, on any machines sharing Redis and PostgreSQL): a ready
 * node becomes one job on the `assets` queue, which a worker runs through the node protocol.
 */
export class BullMqExecutor<Config> implements Executor {
  readonly kind = 'bullmq';

  constructor(
    private readonly queue: Queue<AssetJobData>,
    private readonly graph: AssetGraph<Config>,
  ) {}

  async dispatch(runId: string, nodes: readonly NodeRef[], options?: { again?: boolean }): Promise<void> {
    if (!options?.again) return enqueueNodes(this.queue, this.graph, runId, nodes);
    // A node's job id is deterministic, so a node that ran before in this run still has its job:
    // a failed one is retried (as Bull Board's Retry does, with its attempts counted afresh), a
    // finished one replaced, a missing one (removed by count, or never on BullMQ) added.
    const fresh: NodeRef[] = [];
    for (const node of nodes) {
      const job = await this.queue.getJob(assetJobId(assetJobData.parse({ runId, ...node })));
      const state = job ? await job.getState() : 'unknown';
      if (job && state === 'failed')
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      else if (job && state === 'completed') {
        await job.remove();
        fresh.push(node);
      } else if (!job || state === 'unknown') fresh.push(node);
      // waiting, delayed or active: already on its way.
    }
    await enqueueNodes(this.queue, this.graph, runId, fresh);
  }
}
