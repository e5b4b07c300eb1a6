import { type Logger, pino } from 'pino';
import type { Database } from '../../engine/database.ts';
import { launchRun } from '../../engine/executor.ts';
import type { AssetGraph } from '../../engine/graph.ts';
import { InProcessExecutor, type RunEvent } from '../../engine/in-process-executor.ts';
import { planRun } from '../../engine/plan.ts';
import { RunHistory } from '../../engine/run-history.ts';
import { RunStore } from '../../engine/run-store.ts';

/** Node counts by status, as the CLI's closing line gives them. */
export function countNodes(nodes: readonly { status: string }[]) {
  const count = (status: string) => nodes.filter((node) => node.status === status).length;
  return {
    succeeded: count('succeeded'),
    failed: count('failed'),
    canceled: count('canceled'),
    pending: count('pending') + count('queued'),
  };
}

/** Plans, records and executes a run in this process, as `pipeline materialize --in-process` does. */
export async function runInProcess<Config>(options: {
  database: Database;
  graph: AssetGraph<Config>;
  selection: string[];
  partitions?: { from: string; to: string };
  config: Config;
  concurrency?: number;
  /** Where the assets' logs go; silent by default. */
  logger?: Logger;
  /** Values the node runner must never store or show (the CLI passes the API keys of its config). */
  secrets?: readonly string[];
}) {
  const store = new RunStore(options.database.sql);
  const plan = planRun(options.graph, options.selection, options.partitions);
  const events: RunEvent[] = [];
  const executor = new InProcessExecutor({
    database: options.database,
    store,
    graph: options.graph,
    configFor: () => options.config,
    secrets: options.secrets,
    logger: options.logger ?? pino({ level: 'silent' }),
    concurrency: options.concurrency ?? 2,
    onEvent: (event) => events.push(event),
  });
  try {
    const { runId } = await launchRun(store, executor, {
      trigger: 'cli',
      selection: options.selection.join(','),
      plan,
    });
    const status = await executor.finish(runId);
    const detail = await new RunHistory(options.database).getRun(runId);
    return { runId, result: { status, ...countNodes(detail?.nodes ?? []) }, events, detail };
  } finally {
    executor.close();
  }
}
