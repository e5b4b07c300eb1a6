import type { Database } from '../engine/database.ts';
import { formatDuration, formatMetadata } from '../engine/format.ts';
import type { RunEvent } from '../engine/in-process-executor.ts';
import { idOf, type NodeRef } from '../engine/node.ts';
import type { CheckResultRow, RunNodeRow } from '../engine/run-history.ts';
import type { CheckRecord } from '../engine/run-store.ts';
import { say } from './print.ts';

/**
 * The CLI's human view of a run, the same whichever executor runs it. Every line goes through
 * `say`: names, values and messages come from data.
 */

/** The answers of the run's last partition, when the run computed them. */
export async function summaryOf(nodes: readonly NodeRef[], database: Database): Promise<string[]> {
  // Month keys sort as text.
  const last =
    nodes
      .map((node) => node.partitionKey)
      .sort()
      .at(-1) ?? '';
  const { SUMMARIZED_ASSETS, partitionSummary } = await import('../assets/analytics/summary.ts');
  const answered = nodes.some(
    (node) => node.partitionKey === last && (SUMMARIZED_ASSETS as readonly string[]).includes(node.assetKey),
  );
  return last && answered ? partitionSummary(database.sql, `${last}-01`) : [];
}

/** One line per node as it settles (in-process events). */
export function printEvent(event: RunEvent): void {
  const id = idOf(event.node);
  switch (event.type) {
    case 'succeeded':
      if (event.skipped) say(`  = ${id}  skipped, ${event.skipped}`);
      else say(`  ✓ ${id}  ${formatDuration(event.durationMs)}  ${formatMetadata(event.metadata)}`);
      printFailedChecks(event.checks);
      break;
    case 'retrying':
      say(
        `  ↻ ${id}  attempt ${event.attempt} failed, retrying in ${formatDuration(event.delayMs)}: ${event.reason}`,
      );
      break;
    case 'failed':
      say(`  ✗ ${id}  ${formatDuration(event.durationMs)}  ${event.reason}`);
      printFailedChecks(event.checks);
      break;
    case 'canceled':
      say(`  ⊘ ${id}  ${event.reason}`);
      break;
  }
}

/**
 * Follows a run's nodes from their rows (runs on workers): each node's line is printed once per
 * state it reaches, and each failed attempt that will be tried again once.
 */
export function nodePrinter(): (nodes: RunNodeRow[], checks: CheckResultRow[]) => void {
  const shown = new Map<string, string>();
  return (nodes, checks) => {
    for (const node of nodes) {
      const id = idOf(node);
      // A retrying node is back in `queued` with its error: show each attempt's failure once.
      const state = node.status === 'queued' && node.error ? `retry:${node.error}` : node.status;
      if (shown.get(id) === state) continue;
      shown.set(id, state);
      const nodeChecks = checks.filter(
        (c) => c.assetKey === node.assetKey && c.partitionKey === node.partitionKey,
      );
      const asRecords = nodeChecks.map((c) => ({
        name: c.checkName,
        severity: c.severity as CheckRecord['severity'],
        passed: c.passed,
        message: c.message ?? undefined,
      }));
      const durationMs = node.durationMs ?? 0;
      if (node.status === 'skipped') {
        const reason = (node.metadata as { skipped?: string } | null)?.skipped ?? 'current';
        printEvent({
          type: 'succeeded',
          node,
          durationMs,
          metadata: { rowCount: 0 },
          checks: [],
          skipped: reason,
        });
      } else if (node.status === 'succeeded') {
        const metadata = (node.metadata ?? { rowCount: 0 }) as Extract<
          RunEvent,
          { type: 'succeeded' }
        >['metadata'];
        printEvent({ type: 'succeeded', node, durationMs, metadata, checks: asRecords });
      } else if (node.status === 'failed') {
        printEvent({ type: 'failed', node, durationMs, reason: node.error ?? 'failed', checks: asRecords });
      } else if (node.status === 'canceled') {
        printEvent({ type: 'canceled', node, reason: node.error ?? 'canceled' });
      } else if (state.startsWith('retry:')) say(`  ↻ ${id}  ${node.error}`);
    }
  };
}

function printFailedChecks(checks: readonly CheckRecord[]): void {
  for (const check of checks.filter((c) => !c.passed)) {
    say(`      ! check ${check.name} (${check.severity}) failed${check.message ? `: ${check.message}` : ''}`);
  }
}

/** The closing line of a run and, when it computed them, the answers of its last partition. */
export function printRunEnd(
  runId: string,
  status: string,
  nodes: readonly RunNodeRow[],
  ms: number,
  summary: string[],
): void {
  const count = (...wanted: string[]) => nodes.filter((node) => wanted.includes(node.status)).length;
  const waiting = nodes.filter((node) => node.status === 'pending' || node.status === 'queued');
  if (status === 'failed') {
    printNotStarted(waiting, nodes);
    if (count('failed') > 0) {
      say(
        `  re-execute the failed nodes once their cause is fixed: \`npx pipeline retry ${runId.slice(0, 8)}\``,
      );
    }
  }
  const parts = [`${count('succeeded')} succeeded`, `${count('failed')} failed`];
  if (count('skipped') > 0) parts.splice(1, 0, `${count('skipped')} skipped (current)`);
  if (count('canceled') > 0) parts.push(`${count('canceled')} canceled`);
  if (waiting.length > 0) parts.push(`${waiting.length} pending`);
  say(`run ${runId} ${status}: ${parts.join(', ')} in ${formatDuration(ms)}`);
  for (const line of summary) say(line);
}

const PENDING_SHOWN = 20;

/** The nodes a failure kept from starting, each with the failed nodes upstream of it. */
function printNotStarted(waiting: readonly RunNodeRow[], nodes: readonly RunNodeRow[]): void {
  const byId = new Map(nodes.map((node) => [idOf(node), node]));
  for (const node of waiting.slice(0, PENDING_SHOWN)) {
    const causes = failedUpstream(node, byId);
    const reason =
      causes.length > 0 ? `upstream ${causes.join(', ')} failed` : 'its upstream did not succeed';
    say(`  – ${idOf(node)}  pending: ${reason}`);
  }
  if (waiting.length > PENDING_SHOWN) say(`  – … and ${waiting.length - PENDING_SHOWN} more pending`);
}

/** The failed or canceled nodes this one waits for, directly or through other waiting nodes. */
function failedUpstream(node: RunNodeRow, byId: ReadonlyMap<string, RunNodeRow>): string[] {
  const found = new Set<string>();
  const seen = new Set<string>();
  const pending = [...node.upstream];
  for (let id = pending.pop(); id !== undefined; id = pending.pop()) {
    const up = byId.get(id);
    if (!up || seen.has(id) || up.status === 'succeeded' || up.status === 'skipped') continue;
    seen.add(id);
    if (up.status === 'failed' || up.status === 'canceled') found.add(id);
    else pending.push(...up.upstream);
  }
  return [...found].sort();
}
