import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AssetGraph } from '../engine/graph.ts';
import { idOf, type NodeRef } from '../engine/node.ts';
import { type AssetJobData, assetJobData, assetJobId, QUEUES, type TickJobData } from './catalog.ts';

/** Finished jobs kept for inspection in Bull Board; older ones are removed by count. */
export const KEEP_COMPLETED = 1_000;
export const KEEP_FAILED = 5_000;

export type PipelineQueues = {
  assets: Queue<AssetJobData>;
  schedule: Queue<TickJobData>;
  close: () => Promise<void>;
};

/** The pipeline's queues on a connection (a producer's: the CLI, the dashboard, a worker's enqueues). */
export function openQueues(connection: Redis, prefix: string): PipelineQueues {
  const defaultJobOptions = {
    removeOnComplete: { count: KEEP_COMPLETED },
    removeOnFail: { count: KEEP_FAILED },
  };
  const assets = new Queue<AssetJobData>(QUEUES.assets, { connection, prefix, defaultJobOptions });
  const schedule = new Queue<TickJobData>(QUEUES.schedule, { connection, prefix, defaultJobOptions });
  for (const queue of [assets, schedule]) queue.on('error', () => {}); // surfaced by the calls that fail
  return {
    assets,
    schedule,
    close: async () => {
      await Promise.all([assets.close(), schedule.close()]);
    },
  };
}

/**
 * Hands nodes of a run to the workers: one job each, named after the node, with the asset's retry
 * policy as BullMQ attempts and exponential backoff. The job id is deterministic, so a node
 * enqueued twice (two completions racing, a resumed run) is still one job.
 */
export async function enqueueNodes<Config>(
  queue: Queue<AssetJobData>,
  graph: AssetGraph<Config>,
  runId: string,
  nodes: readonly NodeRef[],
): Promise<void> {
  const jobs = nodes.map((node) => {
    const data = assetJobData.parse({ runId, assetKey: node.assetKey, partitionKey: node.partitionKey });
    const retry = graph.get(node.assetKey).retry;
    return {
      name: idOf(node),
      data,
      opts: {
        jobId: assetJobId(data),
        attempts: retry.attempts,
        backoff: { type: 'exponential' as const, delay: retry.backoffMs },
      },
    };
  });
  // One job is one script call; addBulk wraps several in a transaction (MULTI).
  if (jobs.length === 1 && jobs[0]) await queue.add(jobs[0].name, jobs[0].data, jobs[0].opts);
  else if (jobs.length > 1) await queue.addBulk(jobs);
}

/**
 * BullMQ loses jobs when Redis evicts keys under memory pressure; only `noeviction` is safe.
 * Returns a warning to show, or undefined.
 */
export async function evictionWarning(redis: Redis): Promise<string | undefined> {
  const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
  return policy === 'noeviction'
    ? undefined
    : `Redis maxmemory-policy is '${policy}': under memory pressure Redis may evict queued jobs; set it to 'noeviction'`;
}

/**
 * The queues on a client connection of their own (the CLI, the dashboard): proves Redis answers
 * first (one clear error otherwise), and `close` closes both.
 */
export async function connectQueues(redisUrl: string, prefix: string): Promise<PipelineQueues> {
  const { connectRedis } = await import('./connection.ts');
  const redis = await connectRedis(redisUrl);
  const queues = openQueues(redis, prefix);
  return {
    ...queues,
    close: async () => {
      await queues.close();
      redis.disconnect();
    },
  };
}
