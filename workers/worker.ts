import { type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { type DestinationStream, pino } from 'pino';
import type { Database } from '../engine/database.ts';
import type { AssetGraph } from '../engine/graph.ts';
import type { Logger } from '../engine/logger.ts';
import { RunStore } from '../engine/run-store.ts';
import { TickStore } from '../engine/ticks.ts';
import { BullMqExecutor } from '../queues/bullmq-executor.ts';
import { type AssetJobData, QUEUES, type TickJobData } from '../queues/catalog.ts';
import { redisOptions } from '../queues/connection.ts';
import { openQueues } from '../queues/queues.ts';
import { assetJobProcessor } from './asset-jobs.ts';
import { jobLogSink } from './job-logger.ts';
import { tickProcessor } from './tick.ts';

export type WorkerOptions<Config> = {
  graph: AssetGraph<Config>;
  database: Database;
  /** The asset config for a run, from the options it was started with. */
  configFor: (runConfig: Record<string, unknown>) => Config;
  /** Never stored or shown: see NodeRunnerDeps.secrets. */
  secrets?: readonly string[];
  redisUrl: string;
  prefix: string;
  /** Asset jobs processed at once by this process. */
  concurrency: number;
  logger: Logger;
  /** Where job log lines go besides each job's log in Redis (default: stdout). */
  output?: DestinationStream;
  /** Stall detection (tests shorten them): a job whose worker died is taken up again after this. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** How often running jobs look for a cancel of their run (default 1 s). */
  cancelPollMs?: number;
  /** The landing-zone sensor takes a local file once it has not changed for this long (default 10 s). */
  settleSeconds?: number;
};

const DEFAULT_SETTLE_SECONDS = 10;

export type RunningWorker = {
  assets: Worker<AssetJobData>;
  ticks: Worker<TickJobData>;
  /** Stops taking jobs, lets the current ones finish (or release them on timeout), closes connections. */
  close: () => Promise<void>;
};

/** Runs whose executor went silent are looked for this often by every worker. */
const REAP_EVERY_MS = 10_000;

/** Starts the asset and tick workers of one process. Any number of processes may share one Redis. */
export function startWorker<Config>(options: WorkerOptions<Config>): RunningWorker {
  const { graph, database, logger } = options;
  // Workers block on Redis (maxRetriesPerRequest: null) and reconnect on their own when it returns.
  const connection = new Redis(options.redisUrl, redisOptions('worker'));
  connection.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  const queues = openQueues(connection, options.prefix);
  const store = new RunStore(database.sql);
  const executor = new BullMqExecutor(queues.assets, graph);
  const stall = {
    ...(options.lockDurationMs ? { lockDuration: options.lockDurationMs } : {}),
    ...(options.stalledIntervalMs ? { stalledInterval: options.stalledIntervalMs } : {}),
  };
  const assets = new Worker<AssetJobData>(
    QUEUES.assets,
    assetJobProcessor({
      graph,
      database,
      store,
      configFor: options.configFor,
      secrets: options.secrets,
      logger,
      output: options.output ?? pino.destination(1),
      executor,
      logSink: jobLogSink(queues.assets, connection),
    }),
    { connection, prefix: options.prefix, concurrency: options.concurrency, ...stall },
  );
  const ticks = new Worker<TickJobData>(
    QUEUES.schedule,
    tickProcessor({
      graph,
      database,
      config: options.configFor({}),
      store,
      ticks: new TickStore(database.sql),
      executor,
      logger,
      settleSeconds: options.settleSeconds ?? DEFAULT_SETTLE_SECONDS,
    }),
    {
      connection,
      prefix: options.prefix,
      concurrency: 1,
      ...stall,
    },
  );
  for (const worker of [assets, ticks]) {
    worker.on('error', (error) => logger.error({ err: error }, 'worker error'));
    worker.on('failed', (job, error) =>
      logger.warn({ jobId: job?.id, job: job?.name, attemptsMade: job?.attemptsMade }, error.message),
    );
  }
  const watch = watchForCancels(assets, store, logger, options.cancelPollMs ?? 1_000);
  settleJobsFailedForStalling(assets, store, logger);
  const reaper = setInterval(() => {
    store
      .reapLostRuns()
      .catch((error: unknown) => logger.warn({ err: error }, 'looking for lost runs failed'));
  }, REAP_EVERY_MS);
  reaper.unref();
  return {
    assets,
    ticks,
    close: async () => {
      clearInterval(reaper);
      watch.stop();
      await Promise.all([assets.close(), ticks.close()]);
      await queues.close();
      connection.disconnect();
    },
  };
}

/**
 * A job whose workers kept dying (stalled more often than allowed) is failed by BullMQ itself,
 * without its processor: its node, still `running`, is failed here, so the run settles and
 * `pipeline retry` can re-execute it. (A job its processor failed has its node recorded already;
 * failing a node that is no longer running changes nothing.)
 */
function settleJobsFailedForStalling(worker: Worker<AssetJobData>, store: RunStore, logger: Logger) {
  worker.on('failed', (job: Job<AssetJobData> | undefined, error: Error) => {
    if (!job || !/stalled more than allowable limit/.test(error.message)) return;
    const { runId, assetKey, partitionKey } = job.data;
    store
      .failNode(runId, { assetKey, partitionKey }, undefined, {
        durationMs: 0,
        error: `its job failed: ${error.message} (every worker that took it stopped before it ended)`,
        checks: [],
        end: 'failed',
      })
      .catch((failure: unknown) =>
        logger.warn({ err: failure, jobId: job.id }, 'settling a stalled job failed'),
      );
  });
}

/**
 * A run canceled from anywhere (CLI, dashboard) aborts its running nodes on this worker: every
 * `pollMs` while jobs are active, one query asks which of their runs were canceled, and those
 * jobs' signals are aborted (their transactions roll back).
 */
function watchForCancels(worker: Worker<AssetJobData>, store: RunStore, logger: Logger, pollMs: number) {
  const active = new Map<string, string>(); // job id → run id
  worker.on('active', (job: Job<AssetJobData>) => {
    if (job.id) active.set(job.id, job.data.runId);
  });
  const forget = (job: Job<AssetJobData> | undefined) => {
    if (job?.id) active.delete(job.id);
  };
  worker.on('completed', forget);
  worker.on('failed', forget);
  let polling = false;
  const timer = setInterval(async () => {
    if (active.size === 0 || polling) return;
    polling = true;
    try {
      const canceled = new Set(await store.canceledRuns([...new Set(active.values())]));
      for (const [jobId, runId] of active) if (canceled.has(runId)) worker.cancelJob(jobId, 'run canceled');
    } catch (error) {
      logger.warn({ err: error }, 'looking for canceled runs failed');
    } finally {
      polling = false;
    }
  }, pollMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
