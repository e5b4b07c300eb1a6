import type { Queue } from 'bullmq';
import { SENSOR_ID } from '../engine/sensor.ts';
import type { SchedulerRepeat, SchedulerSetting, TickStore } from '../engine/ticks.ts';
import { SCHEDULER_ID, TICK_JOB_NAME, type TickJobData } from './catalog.ts';

/** 1st of every month, 09:00 UTC (docs/contract.md §2). */
export const MONTHLY_PATTERN = '0 9 1 * *';

/** The pipeline's job schedulers, in the order they are shown. */
export const SCHEDULER_IDS = [SCHEDULER_ID, SENSOR_ID] as const;

const MONTHLY: SchedulerRepeat = { pattern: MONTHLY_PATTERN, tz: 'UTC' };

/** Ticks kept for inspection in Bull Board (every tick is recorded in PostgreSQL as well). */
const KEPT_TICKS = { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } };

/**
 * Creates or updates one job scheduler in BullMQ. Upserting is idempotent: any number of calls,
 * from any number of processes, leave one scheduler with one pending tick. A pattern always comes
 * with `tz`: without it BullMQ reads the pattern in the caller's local time zone.
 */
async function upsertScheduler(queue: Queue<TickJobData>, id: string, repeat: SchedulerRepeat) {
  const name = id === SCHEDULER_ID ? TICK_JOB_NAME : id;
  await queue.upsertJobScheduler(id, repeat, { name, data: {}, opts: KEPT_TICKS });
}

/** The monthly scheduler alone, in BullMQ (what a test of the tick needs). */
export async function upsertMonthlySchedule(queue: Queue<TickJobData>): Promise<void> {
  await upsertScheduler(queue, SCHEDULER_ID, MONTHLY);
}

/**
 * `pipeline schedule`: the monthly scheduler and the landing-zone sensor (every
 * `sensorIntervalSeconds`; 0 removes it), recorded in PostgreSQL and created in BullMQ — except a
 * paused one, which stays paused (absent from BullMQ, so it does not tick).
 */
export async function upsertSchedules(
  queue: Queue<TickJobData>,
  ticks: TickStore,
  options: { sensorIntervalSeconds: number },
): Promise<SchedulerSetting[]> {
  const settings = [await ticks.defineScheduler(SCHEDULER_ID, MONTHLY)];
  if (options.sensorIntervalSeconds > 0) {
    settings.push(await ticks.defineScheduler(SENSOR_ID, { every: options.sensorIntervalSeconds * 1000 }));
  } else {
    await ticks.forgetScheduler(SENSOR_ID);
    await queue.removeJobScheduler(SENSOR_ID);
  }
  for (const setting of settings) await apply(queue, setting);
  return settings;
}

/** Pauses or resumes one scheduler, for every process (undefined: no such scheduler is defined). */
export async function setSchedulerPaused(
  queue: Queue<TickJobData>,
  ticks: TickStore,
  id: string,
  paused: boolean,
): Promise<SchedulerSetting | undefined> {
  const setting = await ticks.setPaused(id, paused);
  if (setting) await apply(queue, setting);
  return setting;
}

/** A scheduler as its setting says: in BullMQ when running, removed (with its pending tick) when paused. */
async function apply(queue: Queue<TickJobData>, setting: SchedulerSetting): Promise<void> {
  if (setting.paused) await queue.removeJobScheduler(setting.id);
  else await upsertScheduler(queue, setting.id, setting.repeat);
}

/** When a scheduler fires next, as BullMQ has it (undefined when it is not there: paused or not created). */
export async function nextFireTime(queue: Queue<TickJobData>, id: string): Promise<Date | undefined> {
  const scheduler = await queue.getJobScheduler(id);
  return scheduler?.next ? new Date(scheduler.next) : undefined;
}

/** How a scheduler fires, in words. */
export function describeRepeat(repeat: SchedulerRepeat): string {
  return 'every' in repeat
    ? `every ${repeat.every / 1000} s`
    : `pattern '${repeat.pattern}', tz ${repeat.tz}`;
}
