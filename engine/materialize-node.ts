import type { AssetContext, AssetDefinition, AssetMetadata } from './asset.ts';
import { type Database, drizzleInTransaction } from './database.ts';
import { AssetFailedError, CheckFailedError, PermanentError } from './errors.ts';
import type { Logger } from './logger.ts';
import { firstDay, lastDay, parseMonth } from './months.ts';
import { nodeId } from './plan.ts';
import type { CheckRecord, NodeRef } from './run-store.ts';

export type NodeOutcome =
  | { ok: true; metadata: AssetMetadata; checks: CheckRecord[]; durationMs: number }
  | {
      ok: false;
      /** With the node and run named, for logs and callers that throw it. */
      error: AssetFailedError;
      /** The failure's own message. */
      reason: string;
      checks: CheckRecord[];
      durationMs: number;
      retryable: boolean;
    };

export type MaterializeNodeOptions<Config> = {
  database: Database;
  definition: AssetDefinition<Config>;
  node: NodeRef;
  runId: string;
  config: Config;
  logger: Logger;
  signal: AbortSignal;
};

/**
 * Materializes one (asset, partition) in one transaction under an advisory lock on that slice:
 * write, run the checks (audit), and commit only if no `error` check failed (publish). Shared by
 * the in-process executor and the BullMQ worker.
 */
export async function materializeNode<Config>(options: MaterializeNodeOptions<Config>): Promise<NodeOutcome> {
  const { definition, node, runId } = options;
  const started = performance.now();
  const checks: CheckRecord[] = [];
  const log = options.logger.child({
    runId,
    asset: node.assetKey,
    partition: node.partitionKey || undefined,
  });
  try {
    const metadata = await options.database.sql.begin(async (tx) => {
      // Two runs never write the same slice at once; the second waits for the first's commit.
      await tx`select pg_advisory_xact_lock(hashtext('pipeline.asset'), hashtext(${nodeId(node.assetKey, node.partitionKey)}))`;
      const month = node.partitionKey ? parseMonth(node.partitionKey) : undefined;
      const ctx: AssetContext<Config> = {
        runId,
        assetKey: node.assetKey,
        ...(month === undefined
          ? {}
          : { partition: node.partitionKey, period: firstDay(month), asOf: lastDay(month) }),
        db: drizzleInTransaction(tx, options.database.sql),
        sql: tx,
        log,
        signal: options.signal,
        config: options.config,
      };
      const produced = await definition.materialize(ctx);
      options.signal.throwIfAborted();
      for (const check of definition.checks) {
        const outcome = await check.run({ ...ctx, metadata: produced });
        checks.push({ name: check.name, severity: check.severity, ...outcome });
        if (!outcome.passed)
          log.warn({ check: check.name, severity: check.severity }, outcome.message ?? 'check failed');
      }
      const failed = checks.filter((c) => !c.passed && c.severity === 'error');
      if (failed.length > 0) {
        throw new CheckFailedError(
          `check ${failed.map((c) => `${c.name}${c.message ? ` (${c.message})` : ''}`).join(', ')} failed; the write was rolled back`,
        );
      }
      return produced;
    });
    return { ok: true, metadata, checks, durationMs: performance.now() - started };
  } catch (error) {
    const label = nodeId(node.assetKey, node.partitionKey);
    const message = error instanceof Error ? error.message : String(error);
    log.warn({ err: error }, 'materialization failed');
    return {
      ok: false,
      error: new AssetFailedError(`${label} failed in run ${runId.slice(0, 8)}: ${message}`, {
        cause: error,
      }),
      reason: message,
      checks,
      durationMs: performance.now() - started,
      // Bad input and failed checks do not get better by trying again.
      retryable: isRetryable(error) && !options.signal.aborted,
    };
  }
}

// SQLSTATE classes that are the query's own fault: data exception, integrity violation, syntax or
// undefined object. Trying again gives the same answer.
const PERMANENT_SQLSTATE_CLASSES = new Set(['22', '23', '42']);

/** Bad input, failed checks and broken SQL do not get better by trying again; the rest may. */
function isRetryable(error: unknown): boolean {
  if (error instanceof PermanentError) return false;
  const code = (error as { code?: unknown } | undefined)?.code;
  return !(
    typeof code === 'string' &&
    /^[0-9A-Z]{5}$/.test(code) &&
    PERMANENT_SQLSTATE_CLASSES.has(code.slice(0, 2))
  );
}
