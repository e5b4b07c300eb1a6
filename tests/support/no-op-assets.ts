import { type AssetDependency, defineAsset } from '../../engine/asset.ts';

/** An asset that does nothing, for tests of graphs, selection and planning. */
export function noOpAsset(
  key: string,
  options: { deps?: AssetDependency[]; partitioned?: boolean; group?: string } = {},
) {
  return defineAsset({
    key,
    group: options.group ?? 'g',
    description: key,
    deps: options.deps ?? [],
    partitions: options.partitioned ? 'monthly' : undefined,
    materialize: async () => ({ rowCount: 0 }),
  });
}
