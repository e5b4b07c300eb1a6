import type { Command } from 'commander';
import { PartitionRequiredError, UsageError } from '../../engine/errors.ts';
import { loadConfig } from '../config.ts';
import { loadAssetGraph } from '../load-assets.ts';
import { executionOptions, wholeNumber } from '../options.ts';

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
  executionOptions(
    program
      .command('materialize')
      .description('materialize a selection of assets for a partition or a range of partitions')
      .argument('<selection>', "'*', key, +key, key+, group:NAME; several separated by commas or spaces")
      .option('--partition <YYYY-MM>', 'one monthly partition')
      .option('--from <YYYY-MM>', 'first partition of a range (with --to)')
      .option('--to <YYYY-MM>', 'last partition of a range (with --from)'),
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
  const [{ selectAssets }, { planRun }, { launchRun }, execution] = await Promise.all([
    import('../../engine/selection.ts'),
    import('../../engine/plan.ts'),
    import('../../engine/executor.ts'),
    import('../run-execution.ts'),
  ]);
  const graph = await loadAssetGraph();
  const range = partitionRange(flags);
  const plan = withFlagHint(() => planRun(graph, selectAssets(graph, selection), range));
  const partitions =
    plan.partitions.length > 0 ? `, partitions ${plan.partitions[0]}..${plan.partitions.at(-1)}` : '';
  const nodes = `${plan.nodes.length} node${plan.nodes.length === 1 ? '' : 's'}`;
  const launch: import('../run-execution.ts').Launch = async (store, executor) => {
    const { runId } = await launchRun(
      store,
      executor,
      { trigger: 'cli', selection, plan, config: { allowBadRows: flags.allowBadRows } },
      (id) => {
        console.log(
          `run ${id}: ${nodes} ${flags.inProcess ? '' : 'queued '}(selection '${selection}'${partitions})`,
        );
        if (range && plan.partitions.length === 0) {
          console.log('  (no partitioned asset is selected: the partition flags do not apply)');
        }
      },
    );
    return runId;
  };
  if (flags.inProcess) await execution.executeHere({ config, graph, launch, concurrency: flags.concurrency });
  // BullMQ and ioredis are loaded only on this path.
  else await execution.executeOnWorkers({ config, graph, launch, wait: flags.wait });
}

/** The engine says a partition is needed; the CLI says which flags give one. */
function withFlagHint<T>(plan: () => T): T {
  try {
    return plan();
  } catch (error) {
    if (!(error instanceof PartitionRequiredError)) throw error;
    throw new UsageError(`${error.message}: pass --partition YYYY-MM or --from YYYY-MM --to YYYY-MM`);
  }
}
