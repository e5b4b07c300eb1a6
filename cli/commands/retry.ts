import type { Command } from 'commander';
import { loadConfig } from '../config.ts';
import { loadAssetGraph } from '../load-assets.ts';
import { executionOptions } from '../options.ts';
import { resolveRunId, withRuns } from '../services.ts';

type RetryFlags = { inProcess?: boolean; wait: boolean; concurrency: number };

export function registerRetry(program: Command): void {
  executionOptions(
    program
      .command('retry')
      .description("re-execute a run's failed nodes and go on with what they unblock, in the same run")
      .argument('<run>', 'run id (or its first characters)'),
  ).action(retry);
}

async function retry(id: string, flags: RetryFlags): Promise<void> {
  const config = loadConfig();
  const [{ reexecuteRun }, execution] = await Promise.all([
    import('../../engine/executor.ts'),
    import('../run-execution.ts'),
  ]);
  const graph = await loadAssetGraph();
  // Resolved (and checked to exist) before any queue is opened.
  const runId = await withRuns(({ history }) => resolveRunId(history, id));
  const launch: import('../run-execution.ts').Launch = async (store, executor) => {
    const dispatched = await reexecuteRun(store, executor, runId);
    console.log(
      `run ${runId}: re-executing from its failures, ${dispatched} node${dispatched === 1 ? '' : 's'} ready ` +
        `(${flags.inProcess ? 'in this process' : 'on the workers'})`,
    );
    return runId;
  };
  if (flags.inProcess) await execution.executeHere({ config, graph, launch, concurrency: flags.concurrency });
  else await execution.executeOnWorkers({ config, graph, launch, wait: flags.wait });
}
