import { type Job, UnrecoverableError } from 'bullmq';
import { assetState } from '../engine/asset-state.ts';
import type { Database } from '../engine/database.ts';
import { type Executor, launchRun } from '../engine/executor.ts';
import type { AssetGraph } from '../engine/graph.ts';
import type { Logger } from '../engine/logger.ts';
import { lastCompleteMonth, monthKey } from '../engine/months.ts';
import type { RunStore } from '../engine/run-store.ts';
import { SENSOR_ID, sensorTick } from '../engine/sensor.ts';
import { planFromState, RunRefused } from '../engine/state-plan.ts';
import type { TickOutcome, TickStore } from '../engine/ticks.ts';
import { receive, SCHEDULER_ID, type TickJobData, tickJobData } from '../queues/catalog.ts';

/** Groups the monthly run leaves out (docs/contract.md §4: market is materialized on demand). */
const UNSCHEDULED_GROUPS = new Set(['market']);

export type TickDeps<Config> = {
  graph: AssetGraph<Config>;
  database: Database;
  /** The asset config the tick plans with (where the landing files are). */
  config: Config;
  store: RunStore;
  /** Where every tick is recorded, and which schedulers are paused. */
  ticks: TickStore;
  executor: Executor;
  logger: Logger;
  /** The sensor leaves a local file alone until it has not changed for this long. */
  settleSeconds: number;
};

/**
 * What a tick of the monthly scheduler does: a run of every asset outside group market for the
 * month that just ended at `firedAt` (a tick on 2026-12-01 runs 2026-11) — of the nodes that are
 * missing or stale, as `materialize --stale` plans it; none when everything is current. A tick
 * whose run would read missing inputs is refused (the job fails, saying which). A tick delivered
 * twice (retried after a crash) starts one run: the tick's id is the run's key.
 */
export async function startMonthlyRun<Config>(
  deps: TickDeps<Config>,
  tick: { id: string; firedAt: Date },
): Promise<{ runId: string | null; partition: string; alreadyStarted: boolean }> {
  const partition = monthKey(lastCompleteMonth(tick.firedAt));
  // Delivered again after it started its run: that run is its answer (what is current now differs).
  const runKey = `schedule:${tick.id}`;
  const started = await deps.store.runWithKey(runKey);
  if (started) return { runId: started, partition, alreadyStarted: true };
  const record = (outcome: TickOutcome, message: string, runId: string | null = null) =>
    deps.ticks.record({
      schedulerId: SCHEDULER_ID,
      jobId: tick.id,
      firedAt: tick.firedAt,
      outcome,
      message,
      filesSeen: null,
      files: [],
      runId,
    });
  const keys = deps.graph.keys.filter((key) => !UNSCHEDULED_GROUPS.has(deps.graph.get(key).group));
  const range = { from: partition, to: partition };
  const grid = await assetState({ database: deps.database, graph: deps.graph, config: deps.config, range });
  let plan: ReturnType<typeof planFromState>['plan'];
  try {
    const planned = planFromState(deps.graph, grid, { selected: keys, range, only: 'stale' });
    plan = planned.plan;
    for (const warning of planned.warnings)
      deps.logger.warn({ partition, tickId: tick.id }, `monthly run: ${warning}`);
  } catch (error) {
    if (!(error instanceof RunRefused)) throw error;
    deps.logger.warn({ partition, tickId: tick.id }, `monthly run for ${partition} ${error.message}`);
    await record('refused', `monthly run for ${partition} ${error.message}`);
    throw new UnrecoverableError(`monthly run for ${partition} ${error.message}`);
  }
  if (plan.nodes.length === 0) {
    deps.logger.info({ partition, tickId: tick.id }, `monthly run for ${partition}: every node is current`);
    await record('current', `monthly run for ${partition}: every node is current`);
    return { runId: null, partition, alreadyStarted: false };
  }
  const { runId, existing } = await launchRun(deps.store, deps.executor, {
    plan,
    trigger: 'schedule',
    selection: `* except group:market`,
    config: { tickId: tick.id, firedAt: tick.firedAt.toISOString() },
    runKey,
    skipCurrent: true,
  });
  if (existing) return { runId, partition, alreadyStarted: true };
  deps.logger.info({ runId, partition, tickId: tick.id }, `monthly run for ${partition} started`);
  await record('started', `monthly run for ${partition} started (${plan.nodes.length} nodes)`, runId);
  return { runId, partition, alreadyStarted: false };
}

/**
 * The worker's processor for scheduler ticks. A tick of the job scheduler fires at the time the
 * scheduler set for it — the one its id carries (`repeat:<scheduler>:<ms>`, BullMQ's prevMillis),
 * which stays right when it is processed late or promoted early in Bull Board. Any other job on
 * the queue (added by hand, by a test, or through Bull Board's "add") must say when it fired:
 * without a valid `firedAt` it is rejected, never run as "now".
 */
export function tickProcessor<Config>(deps: TickDeps<Config>) {
  return async (job: Job<TickJobData>) => {
    const data = receive(tickJobData, job.data, job.name);
    if (job.name === SENSOR_ID) return sensorJob(deps, job, data);
    if (await deps.ticks.isPaused(SCHEDULER_ID)) return pausedTick(deps, SCHEDULER_ID, job, data);
    const firedAt = data.firedAt ? new Date(data.firedAt) : schedulerFireTime(job);
    if (!firedAt) {
      throw new UnrecoverableError(
        `tick ${String(job.id).slice(0, 100)} did not come from the job scheduler '${SCHEDULER_ID}' and carries no firedAt: not run`,
      );
    }
    return startMonthlyRun(deps, { id: String(job.id), firedAt });
  };
}

/**
 * A tick of the landing-zone sensor. Its fire time only dates the record (a tick added by hand
 * fires now); which files changed is what it looks at.
 */
async function sensorJob<Config>(deps: TickDeps<Config>, job: Job<TickJobData>, data: TickJobData) {
  if (await deps.ticks.isPaused(SENSOR_ID)) return pausedTick(deps, SENSOR_ID, job, data);
  const firedAt = data.firedAt ? new Date(data.firedAt) : (schedulerFireTime(job, SENSOR_ID) ?? new Date());
  const tick = await sensorTick(
    {
      ...deps,
      excludedGroups: UNSCHEDULED_GROUPS,
    },
    { jobId: String(job.id), firedAt },
  );
  return { outcome: tick.outcome, runId: tick.runId, message: tick.message };
}

/** A tick that reached a worker although its scheduler is paused (it was pending when paused): recorded, nothing run. */
async function pausedTick<Config>(
  deps: TickDeps<Config>,
  schedulerId: string,
  job: Job<TickJobData>,
  data: TickJobData,
) {
  const firedAt = data.firedAt ? new Date(data.firedAt) : (schedulerFireTime(job, schedulerId) ?? new Date());
  const tick = await deps.ticks.record({
    schedulerId,
    jobId: String(job.id),
    firedAt,
    outcome: 'paused',
    message: `scheduler '${schedulerId}' is paused: nothing run`,
    filesSeen: null,
    files: [],
    runId: null,
  });
  return { outcome: tick.outcome, runId: null, message: tick.message };
}

/** When the job scheduler fired this tick; undefined for a job that is not one of its ticks. */
export function schedulerFireTime(
  job: Pick<Job, 'id' | 'repeatJobKey' | 'opts'>,
  schedulerId: string = SCHEDULER_ID,
): Date | undefined {
  if (job.repeatJobKey !== schedulerId) return undefined;
  const millis = /^repeat:.+:(\d+)$/.exec(String(job.id))?.[1] ?? job.opts.prevMillis;
  const fired = millis === undefined ? undefined : new Date(Number(millis));
  return fired && !Number.isNaN(fired.getTime()) ? fired : undefined;
}
