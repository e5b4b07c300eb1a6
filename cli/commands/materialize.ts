import type { Command } from 'commander';
import { Interrupted, UsageError } from '../../engine/errors.ts';
import { assetConfig } from '../asset-config.ts';
import { loadConfig } from '../config.ts';
import { loadAssetGraph } from '../load-assets.ts';
import { wholeNumber } from '../options.ts';
import { printEvent, printRunEnd, summaryOf } from '../run-output.ts';
import { withRunStore } from '../services.ts';

type MaterializeFlags = {
  partition?: string;
  from?: string;
  to?: string;
  inProcess?: boolean;
  wait: boolean;
  concurrency: number;
  allowBadRows: number;
};

export function registerMaterialize(program: Command): void {
  program
    .command('materialize')
    .description('materialize a selection of assets for a partition or a range of partitions')
    .argument('<selection>', "'*', key, +key, key+, group:NAME; several separated by commas or spaces")
    .option('--partition <YYYY-MM>', 'one monthly partition')
    .option('--from <YYYY-MM>', 'first partition of a range (with --to)')
    .option('--to <YYYY-MM>', 'last partition of a range (with --from)')
    .option('--in-process', 'run here, without Redis or workers')
    .option('--no-wait', 'print the run id and return (with workers)')
    .option(
      '--concurrency <n>',
      'nodes materializing at once (in-process; workers have their own)',
      wholeNumber('concurrency', 1, 32),
      2,
    )
    .option(
      '--allow-bad-rows <n>',
      'quarantine up to N bad input rows instead of failing',
      wholeNumber('allow-bad-rows', 0),
      0,
    )
    .action(materialize);
}

function partitionRange(flags: MaterializeFlags): { from: string; to: string } | undefined {
  if (flags.partition !== undefined) {
    if (flags.from !== undefined || flags.to !== undefined) {
      throw new UsageError('use either --partition or --from/--to, not both');
    }
    return { from: flags.partition, to: flags.partition };
  }
  if ((flags.from === undefined) !== (flags.to === undefined))
    throw new UsageError('--from and --to go together');
  return flags.from !== undefined && flags.to !== undefined ? { from: flags.from, to: flags.to } : undefined;
}

async function materialize(selection: string, flags: MaterializeFlags): Promise<void> {
  const config = loadConfig();
  const [{ selectAssets }, { planRun }, { executeInProcess }, { createLogger }] = await Promise.all([
    import('../../engine/selection.ts'),
    import('../../engine/plan.ts'),
    import('../../engine/executor.ts'),
    import('../../engine/logger.ts'),
  ]);
  const graph = await loadAssetGraph();
  const range = partitionRange(flags);
  const plan = planRun(graph, selectAssets(graph, selection), range);
  if (!flags.inProcess) {
    // BullMQ and ioredis are loaded only on this path.
    const { materializeOnWorkers } = await import('./materialize-queued.ts');
    await materializeOnWorkers({
      config,
      graph,
      plan,
      selection,
      wait: flags.wait,
      allowBadRows: flags.allowBadRows,
    });
    return;
  }
  const configForAssets = assetConfig(config, { allowBadRows: flags.allowBadRows });
  // The CLI's lines are the human view; asset logs (JSON on stderr) only when LOG_LEVEL asks.
  const logger = createLogger(process.env.LOG_LEVEL ? config.logLevel : 'silent');

  const result = await withRunStore(
    async (store, database) => {
      const runId = await store.createRun({
        trigger: 'cli',
        selection,
        executor: 'in-process',
        plan,
        config: { allowBadRows: flags.allowBadRows },
      });
      const partitions =
        plan.partitions.length > 0 ? `, partitions ${plan.partitions[0]}..${plan.partitions.at(-1)}` : '';
      const nodes = `${plan.nodes.length} node${plan.nodes.length === 1 ? '' : 's'}`;
      console.log(`run ${runId}: ${nodes} (selection '${selection}'${partitions})`);
      if (range && plan.partitions.length === 0) {
        console.log('  (no partitioned asset is selected: the partition flags do not apply)');
      }
      const interrupt = new AbortController();
      const onSignal = () => interrupt.abort(new Interrupted('interrupted'));
      // Ctrl-C or a service manager's SIGTERM: running nodes finish, the run is marked canceled.
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const started = performance.now();
      try {
        const outcome = await executeInProcess({
          database,
          store,
          graph,
          plan,
          runId,
          config: configForAssets,
          logger,
          concurrency: flags.concurrency,
          signal: interrupt.signal,
          onEvent: printEvent,
        });
        const ms = performance.now() - started;
        const summary = outcome.status === 'succeeded' ? await summaryOf(plan, database) : [];
        return { runId, ...outcome, ms, summary };
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
    },
    { poolSize: flags.concurrency + 2 },
  );
  printRunEnd(result.runId, result, result.ms, result.summary);
  if (result.status !== 'succeeded') process.exitCode = result.status === 'canceled' ? 130 : 1;
}
