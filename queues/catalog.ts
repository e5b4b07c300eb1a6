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
  /** The ticks of the job schedulers: the monthly run, the landing-zone sensor. */
  schedule: 'schedule',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** Longest asset key (and job name shown) a job may carry. */
const MAX_KEY_LENGTH = 200;
/** A job's data is a few ids: anything larger did not come from the pipeline. */
const MAX_JOB_DATA_CHARS = 4_096;
/** The earliest year a tick may say it fired in (partitions are months from then on). */
const FIRST_TICK_YEAR = 1900;

export const assetJobData = z.object({
  runId: z.uuid(),
  assetKey: z.string().min(1).max(MAX_KEY_LENGTH),
  /** YYYY-MM, or '' for an unpartitioned asset. */
  partitionKey: z.union([z.literal(''), z.string().regex(/^\d{4}-\d{2}$/)]),
});
export type AssetJobData = z.infer<typeof assetJobData>;

export const tickJobData = z.object({
  /** Set by tests and manual triggers (required there); a scheduled tick takes its own fire time. */
  firedAt: z.iso
    .datetime()
    .refine((value) => {
      const year = new Date(value).getUTCFullYear();
      return year >= FIRST_TICK_YEAR && year <= 9999;
    }, `must be a time from ${FIRST_TICK_YEAR} to 9999`)
    .optional(),
});
export type TickJobData = z.infer<typeof tickJobData>;

export const TICK_JOB_NAME = 'monthly-asset-graph';
export const SCHEDULER_ID = 'monthly-asset-graph';
/** The landing-zone sensor's scheduler, and the name of its ticks (engine/sensor.ts). */
export { SENSOR_ID } from '../engine/sensor.ts';

/**
 * Validates job data on receipt: bad data is not worth retrying. Whatever a job carries reaches
 * the message at most briefly (a job added by hand may carry megabytes).
 */
export function receive<T>(schema: z.ZodType<T>, data: unknown, jobName: string): T {
  // A node's name is its key and month; a longer one did not come from the pipeline either.
  if (jobName.length > MAX_KEY_LENGTH + 10) {
    throw new UnrecoverableError(
      `a job named '${jobName.slice(0, 40)}…' (${jobName.length} characters) is not the pipeline's`,
    );
  }
  const size = JSON.stringify(data ?? null).length;
  if (size > MAX_JOB_DATA_CHARS) {
    throw new UnrecoverableError(
      `job ${jobName} carries ${size} characters of data, more than ${MAX_JOB_DATA_CHARS}`,
    );
  }
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
