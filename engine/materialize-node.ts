import type { TransactionSql } from 'postgres';
import {
  type AssetContext,
  type AssetDefinition,
  type AssetMetadata,
  dependencyWindow,
  type PartitionedContext,
  type SourceRead,
  type UnpartitionedContext,
} from './asset.ts';
import { type AnyDb, type Database, drizzleInTransaction } from './database.ts';
import { CheckFailedError, PermanentError } from './errors.ts';
import type { Logger } from './logger.ts';
import { firstDay, lastDay, parseMonth } from './months.ts';
import { idOf, type NodeRef } from './node.ts';
import type { CheckRecord } from './run-store.ts';

export type MaterializeOutcome<T> =
  | { ok: true; metadata: AssetMetadata; checks: CheckRecord[]; durationMs: number; committed: T }
  | {
      ok: false;
      error: unknown;
      /** The failure's own message. */
      reason: string;
      checks: CheckRecord[];
      durationMs: number;
      /** False for bad input, failed checks, broken SQL, and an aborted node. */
      retryable: boolean;
    };

/** What a node's asset wrote and reported, before the commit. */
export type NodeWritten = {
  metadata: AssetMetadata;
  checks: CheckRecord[];
  durationMs: number;
  /** What an asset with a source read (it reports it through ctx.recordSource). */
  source: SourceRead | undefined;
};

export type MaterializeNodeOptions<Config, T> = {
  database: Database;
  definition: AssetDefinition<Config>;
  node: NodeRef;
  runId: string;
  config: Config;
  logger: Logger;
  /** Aborting rolls the node's transaction back (its running statement is canceled). */
  signal: AbortSignal;
  /**
   * Runs in the node's transaction after the asset and its checks succeeded, just before the
   * commit: the node protocol records the success there, so "written" and "recorded" commit together.
   */
  beforeCommit: (tx: TransactionSql, written: NodeWritten) => Promise<T>;
};

/**
 * Materializes one (asset, partition) in one transaction under an advisory lock on that slice:
 * write, run the checks (audit), and commit only if no `error` check failed (publish).
 */
export async function materializeNode<Config, T>(
  options: MaterializeNodeOptions<Config, T>,
): Promise<MaterializeOutcome<T>> {
  const { definition, node, runId, signal } = options;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const checks: CheckRecord[] = [];
  const log = options.logger.child({
    runId,
    asset: node.assetKey,
    partition: node.partitionKey || undefined,
  });
  const stopCancelling = cancelOnAbort(options.database, signal);
  try {
    signal.throwIfAborted();
    const result = await options.database.sql.begin(async (tx) => {
      // Two runs never write the same slice at once; the second waits for the first's commit. Not
      // awaited before the asset starts: statements on one connection run in order, so the
      // asset's first statement already runs under the lock (one round trip less per node).
      const lock = tx<{ pid: number }[]>`
        select pg_backend_pid() as pid, pg_advisory_xact_lock(hashtext('pipeline.asset'), hashtext(${idOf(node)}))`;
      lock.then(
        ([row]) => stopCancelling.watch(row?.pid),
        () => {},
      );
      let source: SourceRead | undefined;
      const ctx = assetContext(options, tx, log, (read) => {
        source = read;
      });
      const metadata = await definition.materialize(ctx);
      signal.throwIfAborted();
      for (const check of definition.checks) {
        // The check sees the asset's context (getters included) plus what it reported.
        const outcome = await check.run(Object.assign(Object.create(ctx) as typeof ctx, { metadata }));
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
      signal.throwIfAborted();
      // Sent right behind the lock when the asset had nothing to say: one round trip for both.
      const [, committed] = await Promise.all([
        lock,
        options.beforeCommit(tx, { metadata, checks, durationMs: elapsed(), source }),
      ]);
      return { metadata, committed };
    });
    return { ok: true, ...result, checks, durationMs: elapsed() };
  } catch (error) {
    const aborted = signal.aborted;
    const reason = aborted ? abortReason(signal) : error instanceof Error ? error.message : String(error);
    if (!aborted) log.warn({ err: error }, 'materialization failed');
    return {
      ok: false,
      error,
      reason,
      checks,
      durationMs: elapsed(),
      retryable: !aborted && isRetryable(error),
    };
  } finally {
    stopCancelling.stop();
  }
}

function assetContext<Config>(
  options: MaterializeNodeOptions<Config, unknown>,
  tx: TransactionSql,
  log: Logger,
  recordSource: (read: SourceRead) => void,
): AssetContext<Config> {
  const { definition, node } = options;
  const month = definition.partitions ? parseMonth(node.partitionKey) : undefined;
  const ctx = {
    runId: options.runId,
    assetKey: node.assetKey,
    sql: tx,
    log,
    signal: options.signal,
    config: options.config,
    recordSource,
    ...(month === undefined
      ? {}
      : {
          partition: node.partitionKey,
          period: firstDay(month),
          asOf: lastDay(month),
          window: (dependency: string) => dependencyWindow(definition, node.partitionKey, dependency),
        }),
  };
  // Most assets speak SQL: Drizzle is built only for the ones that ask for it.
  let db: AnyDb | undefined;
  Object.defineProperty(ctx, 'db', {
    enumerable: true,
    get: () => {
      db ??= drizzleInTransaction(tx, options.database.sql);
      return db;
    },
  });
  return ctx as PartitionedContext<Config> | UnpartitionedContext<Config>;
}

/**
 * Aborting the signal cancels the statement the node's connection is running, so its transaction
 * fails and rolls back instead of finishing a long query first; repeated while the node is still
 * going, in case the connection was between statements.
 */
function cancelOnAbort(database: Database, signal: AbortSignal) {
  let pid: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  const cancel = () => {
    if (pid !== undefined) database.sql`select pg_cancel_backend(${pid})`.catch(() => {});
  };
  const onAbort = () => {
    cancel();
    timer = setInterval(cancel, 500);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  return {
    watch: (backend: number | undefined) => {
      pid = backend;
    },
    stop: () => {
      signal.removeEventListener('abort', onAbort);
      clearInterval(timer);
    },
  };
}

function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'aborted';
}

// SQLSTATE classes that are the query's own fault: data exception, integrity violation, syntax or
// undefined object. Trying again gives the same answer.
const PERMANENT_SQLSTATE_CLASSES = new Set(['22', '23', '42']);

/** Bad input, failed checks and broken SQL do not get better by trying again; the rest may. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof PermanentError) return false;
  const code = (error as { code?: unknown } | undefined)?.code;
  return !(
    typeof code === 'string' &&
    /^[0-9A-Z]{5}$/.test(code) &&
    PERMANENT_SQLSTATE_CLASSES.has(code.slice(0, 2))
  );
}
