import { UsageError } from './errors.ts';
import type { AssetGraph } from './graph.ts';

/**
 * Asset selections: `*`, `key`, `+key` (with everything upstream), `key+` (with everything
 * downstream), `+key+` (both), `group:NAME`. Terms separated by commas and/or whitespace are a
 * union; a term prefixed with `-` is taken out of it, wherever it stands (`'* -group:NAME'`:
 * everything but that group). The result is in dependency order
 * (graph.order), without duplicates.
 */
export function selectAssets<C>(graph: AssetGraph<C>, expression: string): string[] {
  const terms = expression.split(/[\s,]+/).filter((term) => term !== '');
  if (terms.length === 0) {
    throw new UsageError(
      `empty selection: use '*', KEY, +KEY, KEY+, +KEY+ or group:NAME; valid assets are ${validAssets(graph)}`,
    );
  }
  const selected = new Set<string>();
  const excluded = new Set<string>();
  for (const term of terms) {
    const exclude = term.startsWith('-') && term.length > 1;
    for (const key of resolveTerm(graph, exclude ? term.slice(1) : term))
      (exclude ? excluded : selected).add(key);
  }
  return graph.order.filter((key) => selected.has(key) && !excluded.has(key));
}

function resolveTerm<C>(graph: AssetGraph<C>, term: string): Iterable<string> {
  if (term === '*') return graph.order;
  if (term.startsWith('group:')) {
    const group = term.slice('group:'.length);
    if (!graph.groups.includes(group)) {
      throw new UsageError(`unknown group '${group}': valid groups are ${graph.groups.join(', ')}`);
    }
    return graph.order.filter((key) => graph.get(key).group === group);
  }
  const upstream = term.startsWith('+');
  const downstream = term.endsWith('+') && term.length > 1;
  const key = term.slice(upstream ? 1 : 0, downstream ? -1 : undefined);
  if (!graph.has(key)) {
    throw new UsageError(
      `unknown asset '${key || term}' in selection: valid assets are ${validAssets(graph)}`,
    );
  }
  const keys = new Set([key]);
  if (upstream) for (const k of graph.withUpstream(key)) keys.add(k);
  if (downstream) for (const k of graph.withDownstream(key)) keys.add(k);
  return keys;
}

function validAssets<C>(graph: AssetGraph<C>): string {
  return [...graph.order].sort().join(', ');
}
