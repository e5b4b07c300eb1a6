import { PartitionRequiredError, UsageError } from './errors.ts';
import type { AssetGraph } from './graph.ts';
import { inputsOf } from './lineage.ts';
import { type Month, monthKey, monthRange, parseMonth } from './months.ts';
import { type NodeRef, nodeId } from './node.ts';

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

/** How many months one run may cover unless configured otherwise (PIPELINE_MAX_PARTITIONS). */
export const DEFAULT_MAX_PARTITIONS = 600;

/**
 * Every month key from `from` to `to`, inclusive. Invalid keys, from > to, or more months than
 * `maxPartitions` are a UsageError — checked before anything is expanded, so a range typed as
 * 0001-01..9999-12 costs nothing.
 */
export function partitionKeys(from: string, to: string, maxPartitions = DEFAULT_MAX_PARTITIONS): string[] {
  return partitionMonths(from, to, maxPartitions).map(monthKey);
}

function partitionMonths(from: string, to: string, maxPartitions: number): Month[] {
  const first = parseMonth(from, 'partition');
  const last = parseMonth(to, 'partition');
  if (first > last) throw new UsageError(`partition range ${from}..${to} is empty: it starts after it ends`);
  const count = last - first + 1;
  if (count > maxPartitions) {
    throw new UsageError(
      `partition range ${from}..${to} covers ${count} months: a run covers at most ${maxPartitions} (PIPELINE_MAX_PARTITIONS)`,
    );
  }
  return monthRange(first, last);
}

export function planRun<C>(
  graph: AssetGraph<C>,
  selected: readonly string[],
  partitions?: { from: string; to: string },
  maxPartitions = DEFAULT_MAX_PARTITIONS,
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
  const months = partitions ? partitionKeys(partitions.from, partitions.to, maxPartitions) : [];
  return planNodes(
    graph,
    assets.flatMap((assetKey) =>
      graph.get(assetKey).partitions
        ? months.map((partitionKey) => ({ assetKey, partitionKey }))
        : [{ assetKey, partitionKey: '' }],
    ),
  );
}

/**
 * The plan of exactly these nodes: each waits for the nodes of the set it reads (the same month,
 * the months of a window, every partition of a partitioned dependency of an unpartitioned asset).
 */
export function planNodes<C>(graph: AssetGraph<C>, chosen: readonly NodeRef[]): RunPlan {
  const position = new Map(graph.order.map((key, index) => [key, index]));
  const sorted = [
    ...new Map(chosen.map((node) => [nodeId(node.assetKey, node.partitionKey), node])).values(),
  ].sort(
    (a, b) =>
      (position.get(a.assetKey) ?? 0) - (position.get(b.assetKey) ?? 0) ||
      a.partitionKey.localeCompare(b.partitionKey),
  );
  const ids = new Set(sorted.map((node) => nodeId(node.assetKey, node.partitionKey)));
  const byAsset = new Map<string, string[]>();
  for (const node of sorted) {
    const list = byAsset.get(node.assetKey) ?? [];
    list.push(nodeId(node.assetKey, node.partitionKey));
    byAsset.set(node.assetKey, list);
  }
  const nodes = sorted.map((node): PlanNode => {
    const upstream: string[] = [];
    const inputs = inputsOf(graph, node).sort(
      (a, b) => (position.get(a.assetKey) ?? 0) - (position.get(b.assetKey) ?? 0),
    );
    for (const input of inputs) {
      if (input.partitionKey === null) upstream.push(...(byAsset.get(input.assetKey) ?? []));
      else {
        const id = nodeId(input.assetKey, input.partitionKey);
        if (ids.has(id)) upstream.push(id);
      }
    }
    return { id: nodeId(node.assetKey, node.partitionKey), ...node, upstream };
  });
  const partitions = [...new Set(sorted.map((node) => node.partitionKey).filter((key) => key !== ''))].sort();
  return { nodes, partitions };
}
