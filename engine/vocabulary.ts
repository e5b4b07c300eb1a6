/**
 * The words people read for the states of nodes, runs and checks — one vocabulary for the CLI,
 * the dashboard and the docs, so a node the CLI calls `pending` is `pending` on its run page too.
 */

/** A node's states in a run, in the order a node goes through them. */
export const NODE_STATES = [
  'pending', // waiting for its upstream nodes (or not dispatched yet)
  'queued', // ready: handed to an executor, not started
  'running',
  'succeeded',
  'skipped', // current when its turn came: nothing ran (runs that bring nodes up to date)
  'failed',
  'canceled',
] as const;
export type NodeState = (typeof NODE_STATES)[number];

/** A check's outcome: a failed check of severity warn is `warned` (amber), never `failed` (red). */
export type CheckOutcome = 'passed' | 'warned' | 'failed';

export function checkOutcome(check: { passed: boolean; severity: string }): CheckOutcome {
  if (check.passed) return 'passed';
  return check.severity === 'warn' ? 'warned' : 'failed';
}

/** "1 node", "3 nodes": counts read as English. */
export function plural(count: number, noun: string, pluralNoun = `${noun}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? noun : pluralNoun}`;
}
