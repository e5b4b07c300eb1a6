import type { Command } from 'commander';
import { UsageError } from '../../engine/errors.ts';
import type { StateSelection } from '../../engine/state-plan.ts';
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
  missing?: boolean;
  stale?: boolean;
  upstream?: StateSelection;
  dryRun?: boolean;
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
      '--missing',
      'only the selected nodes that are missing or failed (over the data’s span without a range)',
    )
    .option('--stale', 'only the selected nodes that are missing, failed or stale')
    .option(
      '--upstream <missing|stale>',
      'add the missing or failed (or also stale) upstream partitions the run reads, up to the roots',
      stateSelection('upstream'),
    )
    .option('--dry-run', 'print the plan (each node and why) and start nothing')
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
  if (flags.missing && flags.stale) throw new UsageError('use either --missing or --stale, not both');
  const [{ selectAssets }, { launchRun }, execution, planning] = await Promise.all([
    import('../../engine/selection.ts'),
    import('../../engine/executor.ts'),
    import('../run-execution.ts'),
    import('../state-planning.ts'),
  ]);
  const graph = await loadAssetGraph();
  const range = partitionRange(flags);
  const planned = await planning.planMaterialization({
    config,
    graph,
    selected: selectAssets(graph, selection),
    range,
    only: flags.missing ? 'missing' : flags.stale ? 'stale' : undefined,
    upstream: flags.upstream,
  });
  planning.printPlanNotes(planned);
  if (flags.dryRun) return planning.printDryRun(planned);
  const { plan } = planned;
  if (plan.nodes.length === 0) {
    console.log(
      flags.missing || flags.stale
        ? `nothing to materialize: every selected partition is current`
        : 'nothing to materialize: the selection has no partition to run',
    );
    return;
  }
  const partitions =
    plan.partitions.length > 0 ? `, partitions ${plan.partitions[0]}..${plan.partitions.at(-1)}` : '';
  const nodes = `${plan.nodes.length} node${plan.nodes.length === 1 ? '' : 's'}`;
  const launch: import('../run-execution.ts').Launch = async (store, executor) => {
    const { runId } = await launchRun(
      store,
      executor,
      {
        trigger: 'cli',
        selection,
        plan,
        config: { allowBadRows: flags.allowBadRows },
        skipCurrent: Boolean(flags.missing || flags.stale),
      },
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

function stateSelection(flag: string) {
  return (value: string): StateSelection => {
    if (value !== 'missing' && value !== 'stale') {
      throw new UsageError(`--${flag} takes missing or stale, got '${value}'`);
    }
    return value;
  };
}
