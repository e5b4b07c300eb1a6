import type { AssetMetadata } from './asset.ts';
import type { Database } from './database.ts';
import { redactSecrets } from './errors.ts';
import { formatTime } from './format.ts';
import type { AssetGraph } from './graph.ts';
import { inputsOf } from './lineage.ts';
import type { Logger } from './logger.ts';
import { materializeNode } from './materialize-node.ts';
import type { NodeRef } from './node.ts';
import {
  type AttemptEnd,
  type CheckRecord,
  NodeSupersededError,
  RunCanceledError,
  type RunStatus,
  type RunStore,
  shortId,
} from './run-store.ts';

/**
 * One attempt at one node, the same for every executor: start it, materialize it with its
 * completion in the asset's own transaction, or record why it did not succeed. What differs
 * between executors — how ready nodes are dispatched, how a retry waits — stays with them.
 */

export type NodeRunnerDeps<Config> = {
  database: Database;
  store: RunStore;
  graph: AssetGraph<Config>;
  /** The asset config for a run, from the options it was started with. */
  configFor: (runConfig: Record<string, unknown>) => Config;
  /**
   * Values of the config that must never be stored or shown (API keys): replaced by **** in what
   * an attempt records — its error and stack, check results, metadata — and in its log lines, in
   * case an asset's own message carries one.
   */
  secrets?: readonly string[];
};

export type AttemptResult =
  | {
      kind: 'succeeded';
      attempt: number;
      /** The nodes this one unblocked, claimed for the caller to dispatch. */
      ready: NodeRef[];
      status: RunStatus;
      durationMs: number;
      metadata: AssetMetadata;
      checks: CheckRecord[];
      /** Nothing ran: the node was current when its turn came (why). */
      skipped?: string;
    }
  | {
      kind: 'failed';
      attempt: number;
      /** retrying: back in the queue for another try; failed: for good; canceled: with its run. */
      end: AttemptEnd;
      status: RunStatus;
      reason: string;
      error: unknown;
      durationMs: number;
      checks: CheckRecord[];
    }
  /** Nothing ran: the node had succeeded already, its run was canceled, or it cannot start. */
  | { kind: 'skipped'; state: 'done' | 'canceled' | 'blocked' | 'missing' }
  /** Another attempt took the node over while this one ran; this one recorded nothing. */
  | { kind: 'superseded'; attempt: number };

export async function attemptNode<Config>(
  deps: NodeRunnerDeps<Config>,
  options: {
    runId: string;
    node: NodeRef;
    logger: Logger;
    signal: AbortSignal;
    /** No try follows this one when it fails (the executor's retry budget is spent). */
    lastTry: boolean;
  },
): Promise<AttemptResult> {
  const { store, graph } = deps;
  const { runId, node, signal } = options;
  const started = await store.startNode(runId, node);
  if (started.state !== 'started') return { kind: 'skipped', state: started.state };
  const { attempt } = started;
  const definition = graph.get(node.assetKey);
  const secrets = deps.secrets ?? [];
  const hide = <T>(value: T): T => (secrets.length > 0 ? redactValues(value, secrets) : value);
  const config = deps.configFor(started.runConfig);
  const inputs = inputsOf(graph, node, { propagatingOnly: true });
  const outcome = await materializeNode({
    database: deps.database,
    definition,
    node,
    runId,
    config,
    logger: options.logger,
    signal,
    secrets,
    beforeCommit: (tx, written) =>
      store.completeNode(tx, runId, node, attempt, {
        ...written,
        metadata: hide(written.metadata),
        checks: hide(written.checks),
        codeVersion: definition.version,
        inputs,
      }),
    currentReason: started.skipCurrent
      ? async (tx) => {
          const sourceFingerprint = definition.source
            ? ((await definition.source.observe(config)).get(node.partitionKey)?.fingerprint ?? null)
            : undefined;
          const current = await store.currentMaterialization(tx, node, {
            codeVersion: definition.version,
            inputs,
            sourceFingerprint,
          });
          return (
            current &&
            `current: run ${shortId(current.runId)} materialized it at ${formatTime(current.materializedAt)}`
          );
        }
      : undefined,
  });
  if (outcome.ok) {
    const { ready, status } = outcome.committed;
    const skipped = outcome.skipped;
    return {
      kind: 'succeeded',
      attempt,
      ready,
      status,
      ...hide(pick(outcome)),
      ...(skipped ? { skipped } : {}),
    };
  }
  if (outcome.error instanceof NodeSupersededError) return { kind: 'superseded', attempt };
  const canceled = signal.aborted || outcome.error instanceof RunCanceledError;
  const end: AttemptEnd = canceled
    ? 'canceled'
    : outcome.retryable && !options.lastTry
      ? 'retrying'
      : 'failed';
  const reason = hide(outcome.reason);
  const checks = hide(outcome.checks);
  const status = await store.failNode(runId, node, attempt, {
    durationMs: outcome.durationMs,
    error: reason,
    cause: outcome.error instanceof Error ? hide(outcome.error.stack) : undefined,
    checks,
    end,
  });
  return {
    kind: 'failed',
    attempt,
    end,
    status,
    reason,
    error: outcome.error,
    durationMs: outcome.durationMs,
    checks,
  };
}

function pick(outcome: { durationMs: number; metadata: AssetMetadata; checks: CheckRecord[] }) {
  return { durationMs: outcome.durationMs, metadata: outcome.metadata, checks: outcome.checks };
}

/** A JSON-like value (metadata, check results, text) with the secrets in every string redacted. */
function redactValues<T>(value: T, secrets: readonly string[]): T {
  if (typeof value === 'string') return redactSecrets(value, secrets) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => redactValues(item, secrets)) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, redactValues(item, secrets)]),
    ) as T;
  }
  return value;
}
