import type { PipelineConfig } from '../assets/config.ts';
import { Interrupted } from '../engine/errors.ts';
import type { Executor } from '../engine/executor.ts';
import type { AssetGraph } from '../engine/graph.ts';
import type { RunStatus, RunStore } from '../engine/run-store.ts';
import { assetConfig, assetSecrets } from './asset-config.ts';
import type { Config } from './config.ts';
import { followRun } from './follow-run.ts';
import { nodePrinter, printEvent, printRunEnd, summaryOf } from './run-output.ts';
import { type Runs, withRuns } from './services.ts';

/**
 * How `materialize` and `retry` carry a run out: in this process or on the workers, printing each
 * node as it settles and a closing summary. `launch` starts the run (a new one, or a
 * re-execution) on the executor it is given and returns its id (none: it started nothing).
 */
export type Launch = (store: RunStore, executor: Executor) => Promise<string | undefined>;

type Execution = { config: Config; graph: AssetGraph<PipelineConfig>; launch: Launch };

/** In this process, without Redis: Ctrl-C cancels the run (running nodes roll back). */
export async function executeHere(options: Execution & { concurrency: number }): Promise<void> {
  const { config, graph } = options;
  const [{ InProcessExecutor }, { createLogger }] = await Promise.all([
    import('../engine/in-process-executor.ts'),
    import('../engine/logger.ts'),
  ]);
  // The CLI's lines are the human view; asset logs (JSON on stderr) only when LOG_LEVEL asks.
  const logger = createLogger(process.env.LOG_LEVEL ? config.logLevel : 'silent');
  await withRuns(
    async (runs) => {
      const executor = new InProcessExecutor({
        database: runs.database,
        store: runs.store,
        graph,
        configFor: (run) => assetConfig(config, run),
        secrets: assetSecrets(config),
        logger,
        concurrency: options.concurrency,
        leaseSeconds: config.executorLeaseSeconds,
        onEvent: printEvent,
      });
      const interrupt = new AbortController();
      const onSignal = () => interrupt.abort(new Interrupted('interrupted'));
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const started = performance.now();
      try {
        const runId = await options.launch(runs.store, executor);
        if (runId === undefined) return;
        const status = await executor.finish(runId, interrupt.signal);
        await closeRun(runs, runId, status, performance.now() - started, interrupt.signal.aborted);
      } finally {
        executor.close();
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
    },
    // Each running node holds a connection for its transaction; the protocol needs a few more.
    { poolSize: options.concurrency + 3 },
  );
}

/**
 * On the workers: the run is recorded and its ready nodes enqueued; then, unless `wait` is off,
 * the CLI follows the run in Postgres. Ctrl-C stops following, not the run.
 */
export async function executeOnWorkers(options: Execution & { wait: boolean }): Promise<void> {
  const { config, graph } = options;
  const [{ connectQueues }, { BullMqExecutor }] = await Promise.all([
    import('../queues/queues.ts'),
    import('../queues/bullmq-executor.ts'),
  ]);
  const queues = await connectQueues(config.redisUrl, config.queuePrefix);
  try {
    await withRuns(async (runs) => {
      const started = performance.now();
      const runId = await options.launch(runs.store, new BullMqExecutor(queues.assets, graph));
      if (runId === undefined || !options.wait) return;
      if ((await queues.assets.getWorkers()).length === 0) {
        console.log(
          '  no worker is running yet: start one with `npx pipeline worker` (Ctrl-C stops waiting)',
        );
      }
      const status = await follow(runs, runId);
      if (status === 'interrupted') {
        console.log(`stopped waiting; the run goes on: \`npx pipeline run ${runId.slice(0, 8)}\` shows it`);
        process.exitCode = 130;
        return;
      }
      await closeRun(runs, runId, status, performance.now() - started, false);
    });
  } finally {
    await queues.close();
  }
}

/** Prints each node as it settles, until the run ends or Ctrl-C. */
async function follow(runs: Runs, runId: string): Promise<string> {
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const print = nodePrinter();
  try {
    return await followRun(
      runs.history,
      runId,
      (detail) => print(detail.nodes, detail.checks),
      interrupt.signal,
    );
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

/** The closing summary and the exit code: 0 only when every node succeeded. */
async function closeRun(
  runs: Runs,
  runId: string,
  status: RunStatus | string,
  ms: number,
  interrupted: boolean,
) {
  const detail = await runs.history.getRun(runId);
  const nodes = detail?.nodes ?? [];
  const summary = status === 'succeeded' ? await summaryOf(nodes, runs.database) : [];
  printRunEnd(runId, status, nodes, ms, summary);
  if (status !== 'succeeded') process.exitCode = interrupted ? 130 : 1;
}
