import { type Job, UnrecoverableError } from 'bullmq';
import type { DestinationStream, Logger } from 'pino';
import { type Database, explainPostgresError } from '../engine/database.ts';
import { ServiceUnreachableError } from '../engine/errors.ts';
import type { AssetGraph } from '../engine/graph.ts';
import { materializeNode } from '../engine/materialize-node.ts';
import type { NodeRef, RunStore } from '../engine/run-store.ts';
import { type AssetJobData, assetJobData, receive } from '../queues/catalog.ts';
import { jobLogger } from './job-logger.ts';

export type AssetJobDeps<Config> = {
  graph: AssetGraph<Config>;
  database: Database;
  store: RunStore;
  /** The asset config for a run, from the options it was started with. */
  configFor: (runConfig: Record<string, unknown>) => Config;
  logger: Logger;
  /** Where job loggers write besides the job's own log (the worker's stdout). */
  output: DestinationStream;
  /** Hands newly ready nodes of a run to the queue. */
  enqueue: (runId: string, nodes: NodeRef[]) => Promise<void>;
};

export type JobPhase = 'materializing' | 'done';

/**
 * Processes one asset job: materializes the node (one transaction, checks included), records the
 * outcome in Postgres and enqueues the nodes it unblocked. Input errors and failed checks are
 * UnrecoverableError (BullMQ does not retry them); other failures are retried per the asset's
 * policy. A failed node leaves its downstream pending: retrying the job resumes the run.
 */
export function assetJobProcessor<Config>(deps: AssetJobDeps<Config>) {
  return async (
    job: Job<AssetJobData>,
    _token?: string,
    signal?: AbortSignal,
  ): Promise<{ rowCount?: number }> => {
    try {
      return await processAssetJob(deps, job, signal);
    } catch (error) {
      throw unreachablePostgres(error, deps.database.url) ?? error;
    }
  };
}

/**
 * Postgres going away surfaces as a driver code (ECONNREFUSED, CONNECTION_CLOSED …), often under
 * Drizzle's "Failed query: …" or the asset's failure; the job's failed reason (Bull Board) says
 * instead which database is unreachable and what to do. It is retried like any transient failure.
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
  signal: AbortSignal | undefined,
): Promise<{ rowCount?: number }> {
  const data = receive(assetJobData, job.data, job.name);
  if (!deps.graph.has(data.assetKey)) throw new UnrecoverableError(`unknown asset ${data.assetKey}`);
  const node = { assetKey: data.assetKey, partitionKey: data.partitionKey };
  const attempt = job.attemptsMade + 1;
  const attempts = job.opts.attempts ?? 1;
  const started = await deps.store.startNode(data.runId, node, attempt);
  if (started.state === 'missing') throw new UnrecoverableError(`run ${data.runId} has no node ${job.name}`);
  if (started.state === 'done') {
    // Delivered again after it was done (a stalled job whose worker died after committing, or
    // enqueueing its successors failed): nothing to write, but make sure the run goes on.
    await continueRun(deps, data.runId);
    return {};
  }
  const log = jobLogger(job, deps.logger.level, deps.output);
  // A job retried by hand (Bull Board, job.retry()) after its attempts ran out gets one more try.
  const which =
    attempt > attempts ? `attempt ${attempt} (a manual retry)` : `attempt ${attempt} of ${attempts}`;
  log.info({ runId: data.runId, attempt, attempts }, `${job.name}: ${which}`);
  // Progress is for people watching Bull Board: not worth a round trip on the job's path.
  job.updateProgress({ phase: 'materializing' satisfies JobPhase }).catch(() => {});
  const outcome = await materializeNode({
    database: deps.database,
    definition: deps.graph.get(data.assetKey),
    node,
    runId: data.runId,
    config: deps.configFor(started.runConfig),
    logger: log,
    signal: signal ?? new AbortController().signal,
  });
  const durationMs = Math.round(outcome.durationMs);
  if (outcome.ok) {
    // One transaction records the success, claims the nodes it unblocked and settles the run.
    const { ready } = await deps.store.completeNode(data.runId, node, {
      durationMs,
      metadata: outcome.metadata,
      checks: outcome.checks,
    });
    log.info({ durationMs, ...outcome.metadata }, `${job.name} succeeded`);
    await deps.enqueue(data.runId, ready);
    await job.updateProgress({ phase: 'done' satisfies JobPhase });
    return { rowCount: outcome.metadata.rowCount };
  }
  const final = !outcome.retryable || attempt >= attempts;
  if (final) {
    await deps.store.failNode(data.runId, node, {
      durationMs,
      error: outcome.reason,
      cause: outcome.error.cause instanceof Error ? outcome.error.cause.stack : undefined,
      checks: outcome.checks,
    });
  } else {
    await deps.store.recordChecks(data.runId, node, outcome.checks);
    await deps.store.markNodeRetrying(
      data.runId,
      node,
      `attempt ${attempt} of ${attempts}: ${outcome.reason}`,
    );
  }
  log.warn({ attempt, attempts, final }, `${job.name} failed: ${outcome.reason}`);
  throw outcome.retryable
    ? new Error(outcome.reason, { cause: outcome.error })
    : new UnrecoverableError(outcome.reason);
}

/**
 * Enqueues what the run can do next and settles its status. Every queued node is (re)enqueued,
 * not only the ones just claimed: if enqueueing failed last time (Redis away), the retried job
 * finds its node done and hands the waiting nodes over now; their job ids make it harmless.
 */
async function continueRun<Config>(deps: AssetJobDeps<Config>, runId: string): Promise<void> {
  await deps.store.claimReadyNodes(runId);
  await deps.enqueue(runId, await deps.store.nodesWithStatus(runId, 'queued'));
  await deps.store.settleRun(runId);
}
