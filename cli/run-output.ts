import type { Database } from '../engine/database.ts';
import type { RunEvent } from '../engine/executor.ts';
import type { RunPlan } from '../engine/plan.ts';
import { formatDuration, formatMetadata } from './format.ts';

/** The CLI's human view of a run, shared by in-process and queued runs. */

/** The answers of the run's last partition, when the run computed them. */
export async function summaryOf(plan: RunPlan, database: Database): Promise<string[]> {
  const last = plan.partitions.at(-1);
  const { SUMMARIZED_ASSETS, partitionSummary } = await import('../assets/analytics/summary.ts');
  const answered = plan.nodes.some(
    (node) => node.partitionKey === last && (SUMMARIZED_ASSETS as readonly string[]).includes(node.assetKey),
  );
  return last && answered ? partitionSummary(database.sql, `${last}-01`) : [];
}

export function printEvent(event: RunEvent): void {
  const id = event.node.id;
  switch (event.type) {
    case 'started':
      return;
    case 'succeeded':
      console.log(`  ✓ ${id}  ${formatDuration(event.durationMs)}  ${formatMetadata(event.metadata)}`);
      break;
    case 'retrying':
      console.log(
        `  ↻ ${id}  attempt ${event.attempt} failed, retrying in ${formatDuration(event.delayMs)}: ${event.reason}`,
      );
      return;
    case 'failed':
      console.log(`  ✗ ${id}  ${formatDuration(event.durationMs)}  ${event.reason}`);
      break;
    case 'skipped':
      console.log(`  – ${id}  ${event.reason}`);
      return;
  }
  for (const check of event.checks.filter((c) => !c.passed)) {
    console.log(
      `      ! check ${check.name} (${check.severity}) failed${check.message ? `: ${check.message}` : ''}`,
    );
  }
}

/** The closing line of a run and, when it computed them, the answers of its last partition. */
export function printRunEnd(
  runId: string,
  result: { status: string; succeeded: number; failed: number; skipped: number; pending: number },
  ms: number,
  summary: string[],
): void {
  const parts = [`${result.succeeded} succeeded`, `${result.failed} failed`, `${result.skipped} skipped`];
  if (result.pending > 0) parts.push(`${result.pending} not started`);
  console.log(`run ${runId} ${result.status}: ${parts.join(', ')} in ${formatDuration(ms)}`);
  for (const line of summary) console.log(line);
}
