import { PartitionRequiredError, UsageError } from './errors.ts';
import type { AssetGraph } from './graph.ts';
import { type Month, monthKey, monthRange, parseMonth } from './months.ts';
import { nodeId } from './node.ts';

/**
 * Run planning: which (asset, partition) nodes a run materializes and which nodes of the same run
 * each one waits for. Pure: no I/O, linear in the nodes and their edges. A dependency outside the
 * run is assumed to be materialized already and is not waited for.
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

/** Every month key from `from` to `to`, inclusive; invalid keys or from > to are a UsageError. */
export function partitionKeys(from: string, to: string): string[] {
  return partitionMonths(from, to).map(monthKey);
}

function partitionMonths(from: string, to: string): Month[] {
  const first = parseMonth(from, 'partition');
  const last = parseMonth(to, 'partition');
  if (first > last) throw new UsageError(`partition range ${from}..${to} is empty: it starts after it ends`);
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
  if (partitioned.length > 0 && !partitions) throw new PartitionRequiredError(partitioned);
  // A given range is checked even when nothing selected is partitioned.
  const months = partitions ? partitionMonths(partitions.from, partitions.to) : [];
  const runMonths = partitioned.length > 0 ? months : [];
  const firstMonth = runMonths[0] ?? 0;
  const position = new Map(graph.order.map((key, index) => [key, index]));
  const keysOf = (assetKey: string, months: readonly Month[]) =>
    months.map((m) => nodeId(assetKey, monthKey(m)));

  const nodes: PlanNode[] = [];
  for (const assetKey of assets) {
    const asset = graph.get(assetKey);
    const deps = asset.deps
      .filter((dep) => inRun.has(dep.key))
      .sort((a, b) => (position.get(a.key) ?? 0) - (position.get(b.key) ?? 0));
    for (const month of asset.partitions ? runMonths : [undefined]) {
      const upstream: string[] = [];
      for (const dep of deps) {
        if (!graph.get(dep.key).partitions) upstream.push(nodeId(dep.key, ''));
        else if (month === undefined) upstream.push(...keysOf(dep.key, runMonths));
        else if (dep.mapping.kind === 'identity') upstream.push(nodeId(dep.key, monthKey(month)));
        else {
          // The window's months that this run materializes: the run's months are one range.
          const from = Math.max(firstMonth, month - dep.mapping.months + 1);
          upstream.push(...keysOf(dep.key, monthRange(from, month)));
        }
      }
      const partitionKey = month === undefined ? '' : monthKey(month);
      nodes.push({ id: nodeId(assetKey, partitionKey), assetKey, partitionKey, upstream });
    }
  }
  return { nodes, partitions: runMonths.map(monthKey) };
}
