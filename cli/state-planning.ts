import type { PipelineConfig } from '../assets/config.ts';
import { assetState } from '../engine/asset-state.ts';
import { PartitionRequiredError, UsageError } from '../engine/errors.ts';
import type { AssetGraph } from '../engine/graph.ts';
import { planFromState, RunRefused, type StatePlan, type StateSelection } from '../engine/state-plan.ts';
import { assetConfig } from './asset-config.ts';
import type { Config } from './config.ts';
import { say } from './print.ts';
import { withRuns } from './services.ts';

/**
 * Plans a materialization against the graph's state (see engine/state-plan.ts), in the CLI's words:
 * a refusal names the gaps and the same command with `--upstream missing`; a missing partition
 * names the flags that give one.
 */
export async function planMaterialization(options: {
  config: Config;
  graph: AssetGraph<PipelineConfig>;
  selected: string[];
  range: { from: string; to: string } | undefined;
  only: StateSelection | undefined;
  upstream: StateSelection | undefined;
}): Promise<StatePlan> {
  const { graph, range } = options;
  try {
    return await withRuns(async ({ database }) => {
      const { maxPartitions } = options.config;
      const grid = await assetState({
        database,
        graph,
        config: assetConfig(options.config),
        range,
        maxPartitions,
      });
      return planFromState(graph, grid, { ...options, maxPartitions });
    });
  } catch (error) {
    if (error instanceof PartitionRequiredError) {
      throw new UsageError(
        `${error.message}: pass --partition YYYY-MM or --from YYYY-MM --to YYYY-MM (or --missing / --stale for the data's span)`,
      );
    }
    if (error instanceof RunRefused) {
      const hints = [
        ...(error.gaps.length > 0
          ? [`materialize them in the same run with: ${sameCommandWith('--upstream', 'missing')}`]
          : []),
        ...(error.withoutSource.length > 0
          ? ['deliver the missing landing files, or choose partitions whose inputs do not reach them']
          : []),
      ];
      throw new UsageError([error.message, ...hints].join('\n  '));
    }
    throw error;
  }
}

/** This very command line with one more option, quoted for a POSIX shell. */
function sameCommandWith(...extra: string[]): string {
  const args = process.argv
    .slice(2)
    .filter((arg, i, all) => arg !== '--upstream' && all[i - 1] !== '--upstream');
  return ['npx pipeline', ...[...args, ...extra].map(shellQuote)].join(' ');
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

/** What the plan says before it runs: notes (what was left out), warnings (stale inputs read as they are). */
export function printPlanNotes(planned: StatePlan): void {
  for (const note of planned.notes) say(`  note: ${note}`);
  for (const warning of planned.warnings) say(`  warning: ${warning}`);
}

/** --dry-run: every node and why it is in the plan. */
export function printDryRun(planned: StatePlan): void {
  console.log(
    `dry run: ${planned.plan.nodes.length} node${planned.plan.nodes.length === 1 ? '' : 's'} would run`,
  );
  for (const node of planned.plan.nodes) say(`  ${node.id}  ${planned.why.get(node.id) ?? ''}`);
}
