import type { Command } from 'commander';
import type { AssetStateGrid, CellState, PartitionState } from '../../engine/asset-state.ts';
import { UsageError } from '../../engine/errors.ts';
import { nodeId } from '../../engine/node.ts';
import { partitionKeys } from '../../engine/plan.ts';
import { assetConfig } from '../asset-config.ts';
import { loadConfig } from '../config.ts';
import { loadAssetGraph } from '../load-assets.ts';
import { say } from '../print.ts';
import { withRuns } from '../services.ts';

type StatusFlags = { partition?: string; from?: string; to?: string; json?: boolean; check?: boolean };

export const STATE_SYMBOL: Record<PartitionState, string> = {
  materialized: '✓',
  stale: '~',
  failed: '✗',
  missing: '·',
  running: '▸',
  absent: ' ',
};
const NEEDS_WORK = new Set<PartitionState>(['missing', 'stale', 'failed']);

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('the state of every (asset, partition): materialized, stale, missing, failed, running')
    .argument('[selection]', "selection, e.g. '*', 'traffic+', 'group:business'", '*')
    .option('--partition <YYYY-MM>', 'one month')
    .option('--from <YYYY-MM>', 'first month (with --to; default: the data’s span)')
    .option('--to <YYYY-MM>', 'last month (with --from)')
    .option('--json', 'one object per cell: asset, partition, state, reason, materializedAt, dataVersion')
    .option('--check', 'exit 1 when anything shown is missing, stale or failed (for cron jobs and CI)')
    .action(status);
}

async function status(expression: string, flags: StatusFlags): Promise<void> {
  const config = loadConfig();
  const [{ selectAssets }, { assetState }] = await Promise.all([
    import('../../engine/selection.ts'),
    import('../../engine/asset-state.ts'),
  ]);
  const graph = await loadAssetGraph();
  const keys = selectAssets(graph, expression);
  const range = monthRange(flags);
  const grid = await withRuns(({ database }) =>
    assetState({ database, graph, config: assetConfig(config), range, maxPartitions: config.maxPartitions }),
  );
  // Without a range: the data's span (a graph without sources: the months materialized).
  const months = range ? partitionKeys(range.from, range.to, config.maxPartitions) : grid.months;
  const rows = keys.map((key) => ({
    key,
    cells: graph.get(key).partitions ? months.map((month) => grid.cell(key, month)) : [grid.cell(key, '')],
  }));
  const shown = rows.flatMap((row) => row.cells);
  if (flags.json) console.log(JSON.stringify(shown.map(asJson), null, 2));
  else printGrid(rows, months, grid);
  if (flags.check && shown.some((cell) => NEEDS_WORK.has(cell.state))) process.exitCode = 1;
}

function monthRange(flags: StatusFlags): { from: string; to: string } | undefined {
  if (flags.partition !== undefined) {
    if (flags.from !== undefined || flags.to !== undefined)
      throw new UsageError('use either --partition or --from/--to, not both');
    return { from: flags.partition, to: flags.partition };
  }
  if ((flags.from === undefined) !== (flags.to === undefined))
    throw new UsageError('--from and --to go together');
  return flags.from !== undefined && flags.to !== undefined ? { from: flags.from, to: flags.to } : undefined;
}

function asJson(cell: CellState) {
  return {
    asset: cell.assetKey,
    partition: cell.partitionKey === '' ? null : cell.partitionKey,
    state: cell.state,
    reason: cell.reason,
    materializedAt: cell.materializedAt?.toISOString() ?? null,
    dataVersion: cell.dataVersion,
  };
}

/**
 * One row per asset, one 3-wide column per month (under a line of years), the unpartitioned
 * assets' one cell in a column of its own; then a line per stale, failed or warned cell.
 */
function printGrid(
  rows: { key: string; cells: CellState[] }[],
  months: string[],
  grid: AssetStateGrid,
): void {
  const width = Math.max(5, ...rows.map((row) => row.key.length)) + 2;
  // Each year over its first month's column.
  const yearLine = [...' '.repeat(months.length * 3 + 1)];
  months.forEach((month, i) => {
    if (i === 0 || month.endsWith('-01')) yearLine.splice(i * 3, 4, ...month.slice(0, 4));
  });
  const what = grid.span ? `the data's span ${grid.span.first}…${grid.span.last}` : 'no landing files found';
  console.log(months.length > 0 ? `${months[0]}…${months.at(-1)} (${what})` : `(${what})`);
  console.log(`${''.padEnd(width)}${''.padEnd(3)}${yearLine.join('')}`.trimEnd());
  console.log(
    `${'ASSET'.padEnd(width)}${'·'.padEnd(3)}${months.map((m) => m.slice(5).padEnd(3)).join('')}`.trimEnd(),
  );
  for (const row of rows) {
    const symbols = row.cells.map((cell) => STATE_SYMBOL[cell.state].padEnd(3)).join('');
    const line =
      row.cells.length === 1 && row.cells[0]?.partitionKey === '' ? symbols : `${''.padEnd(3)}${symbols}`;
    console.log(`${row.key.padEnd(width)}${line}`.trimEnd());
  }
  console.log('\n✓ materialized  ~ stale  ✗ failed  · missing  ▸ running  (blank) absent, outside the data');
  const explained = rows
    .flatMap((row) => row.cells)
    .filter((cell) => cell.reason && cell.state !== 'missing');
  if (explained.length > 0) {
    console.log('');
    for (const cell of explained) {
      const label = cell.state === 'materialized' ? 'warning' : cell.state;
      say(`  ${nodeId(cell.assetKey, cell.partitionKey)}  ${label}: ${cell.reason}`);
    }
  }
}
