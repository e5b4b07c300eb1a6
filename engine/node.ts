/**
 * A node is one (asset, partition) of a run. Its id — `asset` or `asset[YYYY-MM]` — is built here
 * and nowhere else: plans, job names, messages and pages all use it.
 */
export type NodeRef = { assetKey: string; partitionKey: string };

/** `asset[YYYY-MM]`, or `asset` for an unpartitioned one (partitionKey ''). */
export function nodeId(assetKey: string, partitionKey: string): string {
  return partitionKey === '' ? assetKey : `${assetKey}[${partitionKey}]`;
}

export function idOf(node: NodeRef): string {
  return nodeId(node.assetKey, node.partitionKey);
}
