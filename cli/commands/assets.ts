import type { Command } from 'commander';
import type { AssetStateGrid, PartitionState } from '../../engine/asset-state.ts';
import { formatTime, table } from '../../engine/format.ts';
import { assetConfig } from '../asset-config.ts';
import { loadConfig } from '../config.ts';
import { loadAssetGraph } from '../load-assets.ts';
import { withRuns } from '../services.ts';

export function registerAssets(program: Command): void {
  program
    .command('assets')
    .description('list assets: key, group, partitioned, deps, last materialization')
    .argument('[selection]', "selection, e.g. '*', 'traffic+', 'group:business'", '*')
    .option('--json', 'machine-readable output')
    .action(async (expression: string, flags: { json?: boolean }) => {
      const [{ selectAssets }, { assetState }] = await Promise.all([
        import('../../engine/selection.ts'),
        import('../../engine/asset-state.ts'),
      ]);
      const config = loadConfig();
      const graph = await loadAssetGraph();
      const keys = graph.keys.length === 0 ? [] : selectAssets(graph, expression);
      const [last, grid] = await withRuns(async ({ history, database }) =>
        Promise.all([
          history.lastMaterializations(),
          assetState({ database, graph, config: assetConfig(config) }),
        ]),
      );
      const rows = keys.map((key) => {
        const asset = graph.get(key);
        const latest = last.get(key);
        return {
          key,
          group: asset.group,
          partitioned: asset.partitions ?? null,
          deps: asset.deps.map((dep) =>
            dep.mapping.kind === 'window' ? `${dep.key}[${dep.mapping.months}m]` : dep.key,
          ),
          description: asset.description,
          partitions: stateCounts(grid, key, Boolean(asset.partitions)),
          latestPartition: latestMonth(grid, key),
          lastMaterialization: latest
            ? {
                partition: latest.partitionKey || null,
                at: latest.materializedAt.toISOString(),
                runId: latest.runId,
                durationMs: latest.durationMs,
                metadata: latest.metadata,
              }
            : null,
        };
      });
      if (flags.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      if (rows.length === 0) {
        console.log('no assets are defined');
        return;
      }
      console.log(
        table(
          ['KEY', 'GROUP', 'PARTITIONED', 'DEPS', 'STATE', 'LATEST MONTH', 'LAST MATERIALIZED'],
          rows.map((row) => [
            row.key,
            row.group,
            row.partitioned ?? 'no',
            row.deps.join(',') || '—',
            describeCounts(row.partitions),
            row.latestPartition ?? '—',
            row.lastMaterialization ? formatTime(row.lastMaterialization.at) : 'never',
          ]),
        ),
      );
    });
}

const COUNTED: PartitionState[] = ['materialized', 'stale', 'missing', 'failed', 'running'];

/** How many of the asset's partitions (inside the data's span) are in each state. */
function stateCounts(
  grid: AssetStateGrid,
  key: string,
  partitioned: boolean,
): Partial<Record<PartitionState, number>> {
  const counts: Partial<Record<PartitionState, number>> = {};
  for (const month of partitioned ? grid.months : ['']) {
    const { state } = grid.cell(key, month);
    if (COUNTED.includes(state)) counts[state] = (counts[state] ?? 0) + 1;
  }
  return counts;
}

function describeCounts(counts: Partial<Record<PartitionState, number>>): string {
  return (
    COUNTED.filter((state) => counts[state])
      .map((state) => `${counts[state]} ${state}`)
      .join(', ') || '—'
  );
}

/** The latest month whose partition is materialized (current or stale). */
function latestMonth(grid: AssetStateGrid, key: string): string | null {
  return (
    [...grid.months].reverse().find((month) => {
      const { state } = grid.cell(key, month);
      return state === 'materialized' || state === 'stale';
    }) ?? null
  );
}
