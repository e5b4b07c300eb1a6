import type { Queue } from 'bullmq';
import { SCHEDULER_ID, TICK_JOB_NAME, type TickJobData } from './catalog.ts';

/** 1st of every month, 09:00 UTC (docs/contract.md §2). */
export const MONTHLY_PATTERN = '0 9 1 * *';

/**
 * Creates or updates the one job scheduler of the monthly run. Upserting is idempotent: any number
 * of calls, from any number of processes, leave one scheduler with one pending tick. `tz` is
 * always given: without it BullMQ reads the pattern in the caller's local time zone.
 */
export async function upsertMonthlySchedule(queue: Queue<TickJobData>): Promise<void> {
  await queue.upsertJobScheduler(
    SCHEDULER_ID,
    { pattern: MONTHLY_PATTERN, tz: 'UTC' },
    {
      name: TICK_JOB_NAME,
      data: {},
      opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
    },
  );
}
