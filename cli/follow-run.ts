import { setTimeout as sleep } from 'node:timers/promises';
import type { RunDetail, RunHistory } from '../engine/run-history.ts';

const POLL_MS = 250;
const ENDED = new Set(['succeeded', 'failed', 'canceled']);

/**
 * Follows a run that workers execute, from its state in Postgres: `onDetail` sees every poll,
 * until the run ends (its status) or `signal` aborts ('interrupted' — the run itself goes on).
 */
export async function followRun(
  history: RunHistory,
  runId: string,
  onDetail: (detail: RunDetail) => void,
  signal?: AbortSignal,
): Promise<string> {
  while (!signal?.aborted) {
    const detail = await history.getRun(runId);
    if (!detail) throw new Error(`run ${runId} disappeared`);
    onDetail(detail);
    // A canceled run has ended once its running nodes have stopped too.
    if (ENDED.has(detail.run.status) && !detail.nodes.some((node) => node.status === 'running')) {
      return detail.run.status;
    }
    await sleep(POLL_MS, undefined, { signal }).catch(() => {});
  }
  return 'interrupted';
}
