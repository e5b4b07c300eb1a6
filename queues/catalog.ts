import { UnrecoverableError } from 'bullmq';
import { z } from 'zod';

/**
 * Every queue the pipeline uses and the one shape of data its jobs carry, checked when a job is
 * enqueued and again when a worker receives it (a job from another version, or edited by hand in
 * Bull Board, fails clearly instead of half-running).
 */
export const QUEUES = {
  /** One job per (run, asset, partition); the job's name is the node (e.g. `traffic[2026-10]`). */
  assets: 'assets',
  /** The monthly tick of the job scheduler. */
  schedule: 'schedule',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const assetJobData = z.object({
  runId: z.uuid(),
  assetKey: z.string().min(1),
  /** YYYY-MM, or '' for an unpartitioned asset. */
  partitionKey: z.union([z.literal(''), z.string().regex(/^\d{4}-\d{2}$/)]),
});
export type AssetJobData = z.infer<typeof assetJobData>;

export const tickJobData = z.object({
  /** Set by tests and manual triggers; a scheduled tick takes its own fire time. */
  firedAt: z.iso.datetime().optional(),
});
export type TickJobData = z.infer<typeof tickJobData>;

export const TICK_JOB_NAME = 'monthly-asset-graph';
export const SCHEDULER_ID = 'monthly-asset-graph';

/** Validates job data on receipt: bad data is not worth retrying. */
export function receive<T>(schema: z.ZodType<T>, data: unknown, jobName: string): T {
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    throw new UnrecoverableError(`job ${jobName} carries invalid data: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}

/** A deterministic job id per node of a run: enqueueing it twice is harmless (`:` is not allowed). */
export function assetJobId(data: AssetJobData): string {
  return `${data.runId}.${data.assetKey}.${data.partitionKey || 'all'}`;
}
