import type { Command } from 'commander';
import type { PipelineConfig } from '../../assets/config.ts';
import type { Database } from '../../engine/database.ts';
import { Interrupted, UsageError } from '../../engine/errors.ts';
import type { RunEvent } from '../../engine/executor.ts';
import type { RunPlan } from '../../engine/plan.ts';
import { loadConfig } from '../config.ts';
import { formatDuration, formatMetadata } from '../format.ts';
import { loadAssetGraph } from '../load-assets.ts';
import { wholeNumber } from '../options.ts';
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
      'nodes materializing at once (in-process)',
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
  if (!flags.inProcess) {
    // The BullMQ path (workers, --no-wait) is its own capability; until it lands, say so plainly.
    throw new UsageError('materializing through BullMQ workers is not available yet: pass --in-process');
  }
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
  const assetConfig: PipelineConfig = {
    landingDir: config.landingDir,
    exportDir: config.exportDir,
    allowBadRows: flags.allowBadRows,
  };
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
          config: assetConfig,
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
  const parts = [`${result.succeeded} succeeded`, `${result.failed} failed`, `${result.skipped} skipped`];
  if (result.pending > 0) parts.push(`${result.pending} not started`);
  console.log(`run ${result.runId} ${result.status}: ${parts.join(', ')} in ${formatDuration(result.ms)}`);
  for (const line of result.summary) console.log(line);
  if (result.status !== 'succeeded') process.exitCode = result.status === 'canceled' ? 130 : 1;
}

/** The answers of the run's last partition, when the run computed them. */
async function summaryOf(plan: RunPlan, database: Database): Promise<string[]> {
  const last = plan.partitions.at(-1);
  const { SUMMARIZED_ASSETS, partitionSummary } = await import('../../assets/analytics/summary.ts');
  const answered = plan.nodes.some(
    (node) => node.partitionKey === last && (SUMMARIZED_ASSETS as readonly string[]).includes(node.assetKey),
  );
  return last && answered ? partitionSummary(database.sql, `${last}-01`) : [];
}

function printEvent(event: RunEvent): void {
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
