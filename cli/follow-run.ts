import { setTimeout as sleep } from 'node:timers/promises';
import type { RunStore } from '../engine/run-store.ts';

const POLL_MS = 250;

export type RunDetail = NonNullable<Awaited<ReturnType<RunStore['getRun']>>>;

/**
 * Follows a run that workers execute, from its state in Postgres: `onDetail` sees every poll,
 * until the run ends (its status) or `signal` aborts ('interrupted' — the run itself goes on).
 */
export async function followRun(
  store: RunStore,
  runId: string,
  onDetail: (detail: RunDetail) => void,
  signal?: AbortSignal,
): Promise<string> {
  while (!signal?.aborted) {
    const detail = await store.getRun(runId);
    if (!detail) throw new Error(`run ${runId} disappeared`);
    onDetail(detail);
    if (['succeeded', 'failed', 'canceled'].includes(detail.run.status)) return detail.run.status;
    await sleep(POLL_MS, undefined, { signal }).catch(() => {});
  }
  return 'interrupted';
}
