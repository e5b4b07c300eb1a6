import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { Database } from '../engine/database.ts';
import type { AssetGraph } from '../engine/graph.ts';
import type { Logger } from '../engine/logger.ts';
import { RunStore } from '../engine/run-store.ts';
import { type AssetJobData, QUEUES, type TickJobData } from '../queues/catalog.ts';
import { redisOptions } from '../queues/connection.ts';
import { enqueueNodes, openQueues } from '../queues/queues.ts';
import { assetJobProcessor } from './asset-jobs.ts';
import { tickProcessor } from './tick.ts';

export type WorkerOptions<Config> = {
  graph: AssetGraph<Config>;
  database: Database;
  /** The asset config for a run, from the options it was started with. */
  configFor: (runConfig: Record<string, unknown>) => Config;
  redisUrl: string;
  prefix: string;
  /** Asset jobs processed at once by this process. */
  concurrency: number;
  logger: Logger;
  /** Stall detection (tests shorten them): a job whose worker died is taken up again after this. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
};

export type RunningWorker = {
  assets: Worker<AssetJobData>;
  ticks: Worker<TickJobData>;
  /** Stops taking jobs, lets the current ones finish (or release them on timeout), closes connections. */
  close: () => Promise<void>;
};

/** Starts the asset and tick workers of one process. Any number of processes may share one Redis. */
export function startWorker<Config>(options: WorkerOptions<Config>): RunningWorker {
  const { graph, database, logger } = options;
  // Workers block on Redis (maxRetriesPerRequest: null) and reconnect on their own when it returns.
  const connection = new Redis(options.redisUrl, redisOptions('worker'));
  connection.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  const queues = openQueues(connection, options.prefix);
  const store = new RunStore(database.db);
  const enqueue = (runId: string, nodes: Parameters<typeof enqueueNodes>[3]) =>
    enqueueNodes(queues.assets, graph, runId, nodes);
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
      logger,
      output: pino.destination(1),
      enqueue,
    }),
    { connection, prefix: options.prefix, concurrency: options.concurrency, ...stall },
  );
  const ticks = new Worker<TickJobData>(
    QUEUES.schedule,
    tickProcessor({ graph, store, queue: queues.assets, logger }),
    { connection, prefix: options.prefix, concurrency: 1, ...stall },
  );
  for (const worker of [assets, ticks]) {
    worker.on('error', (error) => logger.error({ err: error }, 'worker error'));
    worker.on('failed', (job, error) =>
      logger.warn({ jobId: job?.id, job: job?.name, attemptsMade: job?.attemptsMade }, error.message),
    );
  }
  return {
    assets,
    ticks,
    close: async () => {
      await Promise.all([assets.close(), ticks.close()]);
      await queues.close();
      connection.disconnect();
    },
  };
}
