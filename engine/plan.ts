import { UsageError } from './errors.ts';
import type { AssetGraph } from './graph.ts';
import { type Month, monthKey, monthRange, parseMonth } from './months.ts';

/**
 * Run planning (SPEC §4): which (asset, partition) nodes a run materializes and which nodes of the
 * same run each one waits for. Pure: no I/O. A dependency outside the run is assumed to be
 * materialized already and is not waited for.
 */

export type PlanNode = {
  id: string;
  assetKey: string;
  /** The partition key (YYYY-MM), or '' for an unpartitioned asset. */
  partitionKey: string;
  /** Ids of the nodes of this run this one waits for: dependency order, then partition. */
  upstream: string[];
};

export type RunPlan = {
  /** In dependency order: by graph.order of the asset, then partition ascending. */
  nodes: PlanNode[];
  /** The partition keys of the run's partitioned nodes, ascending; [] if it has none. */
  partitions: string[];
};

export function nodeId(assetKey: string, partitionKey: string): string {
  return partitionKey === '' ? assetKey : `${assetKey}[${partitionKey}]`;
}

/** Every month key from `from` to `to`, inclusive; invalid keys or from > to are a UsageError. */
export function partitionKeys(from: string, to: string): string[] {
  return partitionMonths(from, to).map(monthKey);
}

function partitionMonths(from: string, to: string): Month[] {
  const first = parseMonth(from, 'partition');
  const last = parseMonth(to, 'partition');
  if (first > last) throw new UsageError(`partition range ${from}..${to} is empty: --from is after --to`);
  return monthRange(first, last);
}

export function planRun<C>(
  graph: AssetGraph<C>,
  selected: readonly string[],
  partitions?: { from: string; to: string },
): RunPlan {
  const unknown = selected.filter((key) => !graph.has(key));
  if (unknown.length > 0) {
    throw new UsageError(
      `unknown asset(s) ${unknown.join(', ')}: valid assets are ${[...graph.order].sort().join(', ')}`,
    );
  }
  const inRun = new Set(selected);
  const assets = graph.order.filter((key) => inRun.has(key));
  const partitioned = assets.filter((key) => graph.get(key).partitions !== undefined);
  const months = partitions ? partitionMonths(partitions.from, partitions.to) : [];
  if (partitioned.length > 0 && !partitions) {
    throw new UsageError(
      `partitioned asset(s) ${partitioned.join(', ')} need a partition: ` +
        'pass --partition YYYY-MM or --from YYYY-MM --to YYYY-MM',
    );
  }
  const runMonths = partitioned.length > 0 ? months : [];
  const position = new Map(graph.order.map((key, index) => [key, index]));

  const nodes: PlanNode[] = [];
  for (const assetKey of assets) {
    const asset = graph.get(assetKey);
    const deps = asset.deps
      .filter((dep) => inRun.has(dep.key))
      .sort((a, b) => (position.get(a.key) ?? 0) - (position.get(b.key) ?? 0));
    for (const month of asset.partitions ? runMonths : [undefined]) {
      const upstream: string[] = [];
      for (const dep of deps) {
        if (!graph.get(dep.key).partitions) {
          upstream.push(nodeId(dep.key, ''));
          continue;
        }
        const wanted =
          month === undefined
            ? runMonths
            : runMonths.filter((m) =>
                dep.mapping.kind === 'window' ? m > month - dep.mapping.months && m <= month : m === month,
              );
        for (const m of wanted) upstream.push(nodeId(dep.key, monthKey(m)));
      }
      const partitionKey = month === undefined ? '' : monthKey(month);
      nodes.push({ id: nodeId(assetKey, partitionKey), assetKey, partitionKey, upstream });
    }
  }
  return { nodes, partitions: runMonths.map(monthKey) };
}
