import type { Command } from 'commander';
import { formatTime, table } from '../../engine/format.ts';
import { loadAssetGraph } from '../load-assets.ts';
import { withRuns } from '../services.ts';

export function registerAssets(program: Command): void {
  program
    .command('assets')
    .description('list assets: key, group, partitioned, deps, last materialization')
    .argument('[selection]', "selection, e.g. '*', 'traffic+', 'group:business' (default: all)", '*')
    .option('--json', 'machine-readable output')
    .action(async (expression: string, flags: { json?: boolean }) => {
      const { selectAssets } = await import('../../engine/selection.ts');
      const graph = await loadAssetGraph();
      const keys = graph.keys.length === 0 ? [] : selectAssets(graph, expression);
      const last = await withRuns(({ history }) => history.lastMaterializations());
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
          ['KEY', 'GROUP', 'PARTITIONED', 'DEPS', 'LAST MATERIALIZATION'],
          rows.map((row) => [
            row.key,
            row.group,
            row.partitioned ?? 'no',
            row.deps.join(',') || '—',
            row.lastMaterialization
              ? `${formatTime(row.lastMaterialization.at)}${row.lastMaterialization.partition ? ` [${row.lastMaterialization.partition}]` : ''}`
              : 'never',
          ]),
        ),
      );
    });
}
