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
import { CheckFailedError, PermanentError, redactSecrets } from './errors.ts';
import type { Logger } from './logger.ts';
import { firstDay, lastDay, parseMonth } from './months.ts';
import { idOf, type NodeRef } from './node.ts';
import type { CheckRecord } from './run-store.ts';

export type MaterializeOutcome<T> =
  | {
      ok: true;
      metadata: AssetMetadata;
      checks: CheckRecord[];
      durationMs: number;
      committed: T;
      /** Why nothing was written: the node was current already. */
      skipped?: string;
    }
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
  /** Set when the asset did not run because the node was current (why). */
  skipped?: string;
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
  /** Replaced by **** in the log lines written here (see NodeRunnerDeps.secrets). */
  secrets?: readonly string[];
  /**
   * Runs in the node's transaction after the asset and its checks succeeded, just before the
   * commit: the node protocol records the success there, so "written" and "recorded" commit together.
   */
  beforeCommit: (tx: TransactionSql, written: NodeWritten) => Promise<T>;
  /**
   * Asked under the lock, before the asset runs: a reason when the node is current already
   * (another run materialized it while this one waited), and the asset is then not run.
   */
  currentReason?: (tx: TransactionSql) => Promise<string | undefined>;
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
      const skipped = await options.currentReason?.(tx);
      if (skipped !== undefined) {
        const metadata = { rowCount: 0 };
        const written = { metadata, checks: [], durationMs: elapsed(), source: undefined, skipped };
        const [, committed] = await Promise.all([lock, options.beforeCommit(tx, written)]);
        log.info({ reason: skipped }, 'skipped: current');
        return { metadata, committed, skipped };
      }
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
          log.warn(
            { check: check.name, severity: check.severity },
            redactSecrets(outcome.message ?? 'check failed', options.secrets ?? []),
          );
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
      return { metadata, committed, skipped: undefined };
    });
    return { ok: true, ...result, checks, durationMs: elapsed() };
  } catch (error) {
    const aborted = signal.aborted;
    const reason = aborted ? abortReason(signal) : error instanceof Error ? error.message : String(error);
    if (!aborted) log.warn({ err: loggable(error, options.secrets ?? []) }, 'materialization failed');
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

/** The error as pino serializes it, with the secrets redacted from its message and stack. */
function loggable(error: unknown, secrets: readonly string[]): unknown {
  if (secrets.length === 0 || !(error instanceof Error)) return error;
  return {
    type: error.name,
    message: redactSecrets(error.message, secrets),
    stack: error.stack && redactSecrets(error.stack, secrets),
  };
}

function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'aborted';
}

// SQLSTATE classes that trying again does not fix: the query's own fault (data exception,
// integrity violation, syntax or undefined object), and what it asks exceeding the server's means
// (53 insufficient resources, e.g. out of memory 53200, disk full 53100; 54 program limit exceeded,
// e.g. a value too large or too many columns): the same query would hit the same wall.
const PERMANENT_SQLSTATE_CLASSES = new Set(['22', '23', '42', '53', '54']);
// …except too_many_connections, which is about the other clients of the moment, not the query.
const TRANSIENT_SQLSTATES = new Set(['53300']);

/**
 * Bad input, failed checks, broken SQL and queries beyond the server's limits do not get better by
 * trying again; the rest may.
 */
export function isRetryable(error: unknown): boolean {
  if (error instanceof PermanentError) return false;
  const code = (error as { code?: unknown } | undefined)?.code;
  return !(
    typeof code === 'string' &&
    /^[0-9A-Z]{5}$/.test(code) &&
    PERMANENT_SQLSTATE_CLASSES.has(code.slice(0, 2)) &&
    !TRANSIENT_SQLSTATES.has(code)
  );
}
