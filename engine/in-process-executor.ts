import { setTimeout as sleep } from 'node:timers/promises';
import type { AssetMetadata } from './asset.ts';
import { UsageError } from './errors.ts';
import type { Executor } from './executor.ts';
import type { Logger } from './logger.ts';
import { idOf, type NodeRef } from './node.ts';
import { attemptNode, type NodeRunnerDeps } from './node-runner.ts';
import type { CheckRecord, RunStatus } from './run-store.ts';

export type RunEvent =
  | {
      type: 'succeeded';
      node: NodeRef;
      durationMs: number;
      metadata: AssetMetadata;
      checks: CheckRecord[];
      /** The node was current when its turn came: nothing ran (why). */
      skipped?: string;
    }
  | { type: 'retrying'; node: NodeRef; attempt: number; delayMs: number; reason: string }
  | { type: 'failed'; node: NodeRef; durationMs: number; reason: string; checks: CheckRecord[] }
  | { type: 'canceled'; node: NodeRef; reason: string };

export type InProcessOptions<Config> = NodeRunnerDeps<Config> & {
  logger: Logger;
  /** Nodes materializing at once. */
  concurrency: number;
  /** How long a run stays this process's without a heartbeat (default 30 s). */
  leaseSeconds?: number;
  onEvent?: (event: RunEvent) => void;
};

type Task = { runId: string; node: NodeRef };

export const DEFAULT_LEASE_SECONDS = 30;
const HEARTBEATS_PER_LEASE = 15;

/**
 * Runs nodes in this process: a local queue, up to `concurrency` nodes at once, each through the
 * one node protocol, with the asset's retry policy (exponential backoff) and what a node unblocks
 * dispatched back to the same queue. While it holds runs it heart-beats: their leases are
 * extended, and a run canceled from elsewhere has its running nodes aborted here.
 */
export class InProcessExecutor<Config> implements Executor {
  readonly kind = 'in-process';
  readonly leaseSeconds: number;
  private readonly waiting: Task[] = [];
  /** Per run: its running nodes' abort controllers, by node id. */
  private readonly running = new Map<string, Map<string, AbortController>>();
  /** Per run: whoever waits for the run's local work to end. */
  private readonly idle = new Map<string, Array<() => void>>();
  /** Per run: an error of the node protocol itself (Postgres gone); the run is given up here. */
  private readonly fatal = new Map<string, unknown>();
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(private readonly options: InProcessOptions<Config>) {
    const poolSize = options.database.sql.options.max;
    if (options.concurrency >= poolSize) {
      // Each running node holds a pooled connection for its transaction; the protocol needs one more.
      throw new UsageError(
        `concurrency ${options.concurrency} needs a database pool larger than its ${poolSize} connections`,
      );
    }
    this.leaseSeconds = options.leaseSeconds ?? DEFAULT_LEASE_SECONDS;
  }

  async dispatch(runId: string, nodes: readonly NodeRef[]): Promise<void> {
    if (this.fatal.has(runId)) return;
    if (!this.running.has(runId)) this.running.set(runId, new Map());
    for (const node of nodes) this.waiting.push({ runId, node });
    this.startHeartbeat();
    this.pump();
  }

  /**
   * Resolves once nothing of the run is queued or running here, with the run's status. `signal`
   * (Ctrl-C) cancels the run: pending nodes are canceled, running ones aborted and rolled back.
   */
  async finish(runId: string, signal?: AbortSignal): Promise<RunStatus> {
    const onAbort = () => {
      const reason = signal?.reason instanceof Error ? signal.reason.message : 'interrupted';
      // Canceled first, so no node starts meanwhile; then the running ones are aborted.
      void this.options.store
        .cancel(runId, `canceled: ${reason}`)
        .catch(() => {})
        .finally(() => this.abortRun(runId, reason));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (this.hasWork(runId)) await new Promise<void>((resolve) => this.whenIdle(runId, resolve));
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    this.running.delete(runId);
    const failure = this.fatal.get(runId);
    if (failure !== undefined) {
      this.fatal.delete(runId);
      throw failure;
    }
    await this.options.store.releaseLease(runId);
    return this.options.store.runStatus(runId);
  }

  /** Stops heart-beating; runs still held here will be found lost once their leases pass. */
  close(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private whenIdle(runId: string, resolve: () => void): void {
    const waiters = this.idle.get(runId) ?? [];
    waiters.push(resolve);
    this.idle.set(runId, waiters);
  }

  private hasWork(runId: string): boolean {
    return (this.running.get(runId)?.size ?? 0) > 0 || this.waiting.some((task) => task.runId === runId);
  }

  private pump(): void {
    while (this.waiting.length > 0 && this.activeCount() < this.options.concurrency) {
      const task = this.waiting.shift() as Task;
      const controller = new AbortController();
      this.running.get(task.runId)?.set(idOf(task.node), controller);
      this.runTask(task, controller.signal)
        .catch((error: unknown) => this.giveUp(task.runId, error))
        .finally(() => {
          this.running.get(task.runId)?.delete(idOf(task.node));
          this.pump();
          if (!this.hasWork(task.runId)) {
            for (const resolve of this.idle.get(task.runId) ?? []) resolve();
            this.idle.delete(task.runId);
          }
          if (this.activeCount() === 0 && this.waiting.length === 0) this.close();
        });
    }
  }

  private activeCount(): number {
    let count = 0;
    for (const nodes of this.running.values()) count += nodes.size;
    return count;
  }

  /** A node's tries, as its asset's retry policy says; what it unblocks goes back to the queue. */
  private async runTask({ runId, node }: Task, signal: AbortSignal): Promise<void> {
    const { graph, logger, onEvent } = this.options;
    const { retry } = graph.get(node.assetKey);
    for (let tryNumber = 1; ; tryNumber++) {
      const result = await attemptNode(this.options, {
        runId,
        node,
        logger,
        signal,
        lastTry: tryNumber >= retry.attempts,
      });
      switch (result.kind) {
        case 'succeeded':
          onEvent?.({ type: 'succeeded', node, ...result });
          await this.dispatch(runId, result.ready);
          return;
        case 'failed':
          if (result.end === 'canceled') onEvent?.({ type: 'canceled', node, reason: result.reason });
          else if (result.end === 'failed') onEvent?.({ type: 'failed', node, ...result });
          else {
            const delayMs = retry.backoffMs * 2 ** (tryNumber - 1);
            onEvent?.({ type: 'retrying', node, attempt: result.attempt, delayMs, reason: result.reason });
            await sleep(delayMs, undefined, { signal }).catch(() => {});
            continue; // a canceled run's node does not start again
          }
          return;
        case 'skipped':
          if (result.state === 'canceled')
            onEvent?.({ type: 'canceled', node, reason: 'its run was canceled' });
          return;
        case 'superseded':
          return;
      }
    }
  }

  /** The node protocol itself failed (Postgres unreachable): this process stops running the run. */
  private giveUp(runId: string, error: unknown): void {
    if (!this.fatal.has(runId)) this.fatal.set(runId, error);
    this.options.logger.error({ err: error, runId }, 'executor stopped running the run');
    for (let i = this.waiting.length - 1; i >= 0; i--)
      if (this.waiting[i]?.runId === runId) this.waiting.splice(i, 1);
    this.abortRun(runId, 'the executor stopped');
  }

  private abortRun(runId: string, reason: string): void {
    for (const controller of this.running.get(runId)?.values() ?? []) controller.abort(new Error(reason));
  }

  private startHeartbeat(): void {
    if (this.heartbeat) return;
    const every = Math.max(100, (this.leaseSeconds * 1000) / HEARTBEATS_PER_LEASE);
    this.heartbeat = setInterval(() => void this.beat(), every);
    this.heartbeat.unref();
  }

  /** Extends the leases of the runs held here, and aborts the running nodes of a canceled one. */
  private async beat(): Promise<void> {
    const held = [...this.running.keys()].filter((runId) => !this.fatal.has(runId));
    try {
      const statuses = await this.options.store.heartbeat(held, this.leaseSeconds);
      for (const [runId, status] of statuses) if (status === 'canceled') this.abortRun(runId, 'run canceled');
    } catch (error) {
      this.options.logger.warn({ err: error }, 'heartbeat failed');
    }
  }
}
