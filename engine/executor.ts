import type { NodeRef } from './node.ts';
import type { NewRun, RunStore } from './run-store.ts';

/**
 * How a run's ready nodes reach something that runs them (Dagster's Executor). Everything else —
 * starting a node, recording its outcome, deciding what it unblocked and how the run ends — is
 * the one node protocol (run-store.ts, node-runner.ts), the same for every executor.
 */
export interface Executor {
  /** Recorded with the run: `in-process`, `bullmq`. */
  readonly kind: string;
  /**
   * For an executor that holds runs in its own process: how long a run stays its own without a
   * heartbeat. Past that, the next process that looks marks the run failed ("executor lost").
   */
  readonly leaseSeconds?: number;
  /**
   * Hands ready (`queued`) nodes over to be run. `again`: the nodes ran before in this run (a
   * re-execution), so whatever the executor kept of them may need reviving.
   */
  dispatch(runId: string, nodes: readonly NodeRef[], options?: { again?: boolean }): Promise<void>;
}

/**
 * Records a run and dispatches its first nodes; `onCreated` sees the run before anything runs.
 * With a `runKey` that a run holds already, that run is returned and nothing is dispatched.
 */
export async function launchRun(
  store: RunStore,
  executor: Executor,
  run: Omit<NewRun, 'executor' | 'leaseSeconds'>,
  onCreated?: (runId: string) => void,
): Promise<{ runId: string; existing: boolean }> {
  const { runId, ready, existing } = await store.createRun({
    ...run,
    executor: executor.kind,
    leaseSeconds: executor.leaseSeconds,
  });
  onCreated?.(runId);
  await executor.dispatch(runId, ready);
  return { runId, existing };
}

/**
 * Re-execute from failure: the run's failed (and canceled) nodes run again on `executor`, in the
 * same run, and what they unblock follows. Returns how many nodes were dispatched at once.
 */
export async function reexecuteRun(store: RunStore, executor: Executor, runId: string): Promise<number> {
  const ready = await store.reexecute(runId, executor.kind, executor.leaseSeconds);
  await executor.dispatch(runId, ready, { again: true });
  return ready.length;
}
