import { type Job, UnrecoverableError } from 'bullmq';
import type { DestinationStream, Logger } from 'pino';
import { explainPostgresError } from '../engine/database.ts';
import { ServiceUnreachableError } from '../engine/errors.ts';
import type { Executor } from '../engine/executor.ts';
import { attemptNode, type NodeRunnerDeps } from '../engine/node-runner.ts';
import { type AssetJobData, assetJobData, receive } from '../queues/catalog.ts';
import { withoutMachinePaths } from './job-errors.ts';
import { type JobLogSink, jobLog } from './job-logger.ts';

export type AssetJobDeps<Config> = NodeRunnerDeps<Config> & {
  logger: Logger;
  /** Where job loggers write besides the job's own log (the worker's stdout). */
  output: DestinationStream;
  /** Hands the nodes a job unblocked to the queue. */
  executor: Executor;
  /** Where each job's log lines are kept (Bull Board shows them). */
  logSink: JobLogSink;
};

export type JobPhase = 'materializing' | 'done';

/**
 * Processes one asset job: one attempt at its node through the node protocol, then the nodes it
 * unblocked enqueued. Input errors and failed checks are UnrecoverableError (BullMQ does not retry
 * them); other failures are retried per the asset's policy (the job's attempts and backoff). A
 * node that fails for good leaves its downstream pending: retrying the job resumes the run.
 */
export function assetJobProcessor<Config>(deps: AssetJobDeps<Config>) {
  return async (
    job: Job<AssetJobData>,
    _token?: string,
    signal?: AbortSignal,
  ): Promise<{ rowCount?: number }> => {
    try {
      return await processAssetJob(deps, job, signal ?? new AbortController().signal);
    } catch (error) {
      // What the job fails with is what Bull Board shows: its reason and stack.
      throw withoutMachinePaths(unreachablePostgres(error, deps.database.url) ?? error);
    }
  };
}

/**
 * Postgres going away surfaces as a driver code (ECONNREFUSED, CONNECTION_CLOSED …), often under
 * Drizzle's "Failed query: …" or the asset's failure; the job's failed reason (Bull Board) says
 * instead which database is unreachable. It is retried like any transient failure.
 */
function unreachablePostgres(error: unknown, url: string): ServiceUnreachableError | undefined {
  let current = error;
  for (let depth = 0; current && depth < 4; depth++) {
    if (current instanceof ServiceUnreachableError) return current;
    const explained = explainPostgresError(current, url);
    if (explained instanceof ServiceUnreachableError) return explained;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

async function processAssetJob<Config>(
  deps: AssetJobDeps<Config>,
  job: Job<AssetJobData>,
  signal: AbortSignal,
): Promise<{ rowCount?: number; outcome?: string }> {
  const data = receive(assetJobData, job.data, job.name);
  if (!deps.graph.has(data.assetKey)) throw new UnrecoverableError(`unknown asset ${data.assetKey}`);
  const node = { assetKey: data.assetKey, partitionKey: data.partitionKey };
  const tries = job.opts.attempts ?? 1;
  const tryNumber = job.attemptsMade + 1;
  const { logger: log, flush } = jobLog(job, deps.logger.level, deps.output, deps.logSink);
  try {
    // A job retried by hand (Bull Board, job.retry()) after its attempts ran out gets one more try.
    const which =
      tryNumber > tries ? `attempt ${tryNumber} (a manual retry)` : `attempt ${tryNumber} of ${tries}`;
    log.info({ runId: data.runId, attempt: tryNumber, attempts: tries }, `${job.name}: ${which}`);
    const result = await attemptNode(deps, {
      runId: data.runId,
      node,
      logger: log,
      signal,
      lastTry: tryNumber >= tries,
    });
    switch (result.kind) {
      case 'succeeded':
        if (result.skipped) log.info(`${job.name} skipped, ${result.skipped}`);
        else log.info({ durationMs: result.durationMs, ...result.metadata }, `${job.name} succeeded`);
        // The unblocked nodes and the job's log lines go to Redis together (one round trip).
        await Promise.all([deps.executor.dispatch(data.runId, result.ready), flush()]);
        return { rowCount: result.metadata.rowCount };
      case 'failed':
        log.warn({ attempt: result.attempt, end: result.end }, `${job.name} failed: ${result.reason}`);
        // Retried by BullMQ only when the node protocol put it back in the queue.
        throw result.end === 'retrying'
          ? new Error(result.reason, { cause: result.error })
          : new UnrecoverableError(result.reason);
      case 'superseded':
        log.warn(`${job.name}: another attempt took this node over; this one recorded nothing`);
        return { outcome: 'superseded' };
      case 'skipped':
        return await skipped(deps, job, data.runId, result.state, log);
    }
  } finally {
    await flush();
  }
}

/** A job whose node did not start: say why, and make sure a run whose node is done goes on. */
async function skipped<Config>(
  deps: AssetJobDeps<Config>,
  job: Job<AssetJobData>,
  runId: string,
  state: 'done' | 'canceled' | 'blocked' | 'missing',
  log: Logger,
): Promise<{ outcome: string }> {
  if (state === 'missing') throw new UnrecoverableError(`run ${runId} has no node ${job.name}`);
  if (state === 'blocked') throw new UnrecoverableError(`${job.name} still waits for its upstream nodes`);
  if (state === 'done') {
    // Delivered again after it succeeded (its worker died between the commit and enqueueing what it
    // unblocked): the unblocked nodes are queued in Postgres; their job ids make enqueueing them
    // again harmless.
    log.info(`${job.name} had already succeeded; handing on what it unblocked`);
    await deps.executor.dispatch(runId, await deps.store.queuedNodes(runId));
  } else log.info(`${job.name}: its run was canceled`);
  return { outcome: state };
}
