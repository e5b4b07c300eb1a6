import type { AssetDefinition } from './asset.ts';
import type { AssetGraph } from './graph.ts';
import { monthKey, monthRange, parseMonth } from './months.ts';
import type { NodeRef } from './node.ts';

/**
 * Which upstream partitions a node reads, from its asset's `deps`: the same month, a trailing
 * window of months, the one cell of an unpartitioned dependency, or — for an unpartitioned asset
 * over a partitioned one — every partition of it (`partitionKey: null`).
 */
export type InputRef = { assetKey: string; partitionKey: string | null };

export function inputsOf<C>(
  graph: AssetGraph<C>,
  node: NodeRef,
  options: { propagatingOnly?: boolean } = {},
): InputRef[] {
  return readsOf(graph.get(node.assetKey), node.partitionKey, graph, options.propagatingOnly ?? false);
}

function readsOf<C>(
  asset: AssetDefinition<C>,
  partitionKey: string,
  graph: AssetGraph<C>,
  propagatingOnly: boolean,
): InputRef[] {
  const inputs: InputRef[] = [];
  for (const dep of asset.deps) {
    if (propagatingOnly && !dep.propagates) continue;
    if (!graph.get(dep.key).partitions) inputs.push({ assetKey: dep.key, partitionKey: '' });
    else if (!asset.partitions) inputs.push({ assetKey: dep.key, partitionKey: null });
    else {
      const month = parseMonth(partitionKey);
      const size = dep.mapping.kind === 'window' ? dep.mapping.months : 1;
      for (const m of monthRange(month - size + 1, month))
        inputs.push({ assetKey: dep.key, partitionKey: monthKey(m) });
    }
  }
  return inputs;
}
