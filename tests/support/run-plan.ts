import { type Logger, pino } from 'pino';
import type { Database } from '../../engine/database.ts';
import { executeInProcess, type RunEvent } from '../../engine/executor.ts';
import type { AssetGraph } from '../../engine/graph.ts';
import { planRun } from '../../engine/plan.ts';
import { RunStore } from '../../engine/run-store.ts';

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
}) {
  const store = new RunStore(options.database.db);
  const plan = planRun(options.graph, options.selection, options.partitions);
  const runId = await store.createRun({
    trigger: 'cli',
    selection: options.selection.join(','),
    executor: 'in-process',
    plan,
  });
  const events: RunEvent[] = [];
  const result = await executeInProcess({
    database: options.database,
    store,
    graph: options.graph,
    plan,
    runId,
    config: options.config,
    logger: options.logger ?? pino({ level: 'silent' }),
    concurrency: options.concurrency ?? 2,
    onEvent: (event) => events.push(event),
  });
  return { runId, result, events, detail: await store.getRun(runId) };
}
