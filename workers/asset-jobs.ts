import { type Job, UnrecoverableError } from 'bullmq';
import type { DestinationStream, Logger } from 'pino';
import type { Database } from '../engine/database.ts';
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

export type JobPhase = 'materializing' | 'recording' | 'done';

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
    const data = receive(assetJobData, job.data, job.name);
    if (!deps.graph.has(data.assetKey)) throw new UnrecoverableError(`unknown asset ${data.assetKey}`);
    const node = { assetKey: data.assetKey, partitionKey: data.partitionKey };
    const current = await deps.store.getNode(data.runId, node);
    if (!current) throw new UnrecoverableError(`run ${data.runId} has no node ${job.name}`);
    if (current.status === 'succeeded') {
      // Delivered again after it was done (a stalled job whose worker died after committing):
      // nothing to write, but make sure the run goes on.
      await continueRun(deps, data.runId);
      return {};
    }
    const attempt = job.attemptsMade + 1;
    const attempts = job.opts.attempts ?? 1;
    const log = jobLogger(job, deps.logger.level, deps.output);
    // A job retried by hand (Bull Board, job.retry()) after its attempts ran out gets one more try.
    const which = attempt > attempts ? `attempt ${attempt} (a manual retry)` : `attempt ${attempt} of ${attempts}`;
    log.info({ runId: data.runId, attempt, attempts }, `${job.name}: ${which}`);
    await deps.store.markRunStarted(data.runId);
    await deps.store.markNodeRunning(data.runId, node, attempt);
    await job.updateProgress({ phase: 'materializing' satisfies JobPhase });
    const outcome = await materializeNode({
      database: deps.database,
      definition: deps.graph.get(data.assetKey),
      node,
      runId: data.runId,
      config: deps.configFor(await deps.store.runConfig(data.runId)),
      logger: log,
      signal: signal ?? new AbortController().signal,
    });
    await job.updateProgress({ phase: 'recording' satisfies JobPhase });
    await deps.store.recordChecks(data.runId, node, outcome.checks);
    if (outcome.ok) {
      await deps.store.markNodeSucceeded(data.runId, node, Math.round(outcome.durationMs), outcome.metadata);
      log.info({ durationMs: Math.round(outcome.durationMs), ...outcome.metadata }, `${job.name} succeeded`);
      await continueRun(deps, data.runId);
      await job.updateProgress({ phase: 'done' satisfies JobPhase });
      return { rowCount: outcome.metadata.rowCount };
    }
    const final = !outcome.retryable || attempt >= attempts;
    if (final) {
      await deps.store.markNodeFailed(data.runId, node, {
        durationMs: Math.round(outcome.durationMs),
        error: outcome.reason,
        cause: outcome.error.cause instanceof Error ? outcome.error.cause.stack : undefined,
      });
      await deps.store.settleRun(data.runId);
    } else {
      await deps.store.markNodeRetrying(
        data.runId,
        node,
        `attempt ${attempt} of ${attempts}: ${outcome.reason}`,
      );
    }
    log.warn({ attempt, attempts, final }, `${job.name} failed: ${outcome.reason}`);
    throw outcome.retryable ? new Error(outcome.reason) : new UnrecoverableError(outcome.reason);
  };
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
