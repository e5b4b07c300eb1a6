import dagre from '@dagrejs/dagre';
import type { AssetGraph } from '../engine/graph.ts';

export const NODE_WIDTH = 250;
export const NODE_HEIGHT = 88;

export type PlacedNode = { key: string; x: number; y: number };
export type PlacedGroup = { group: string; x: number; y: number; width: number; height: number };
export type PlacedEdge = { from: string; to: string; points: { x: number; y: number }[] };
export type GraphLayout = {
  width: number;
  height: number;
  nodes: PlacedNode[];
  groups: PlacedGroup[];
  edges: PlacedEdge[];
};

/**
 * Lays the asset graph out left to right with dagre, each group a box around its assets. The
 * graph is fixed for the life of the process, so the layout is computed once.
 */
export function layoutGraph<Config>(graph: AssetGraph<Config>): GraphLayout {
  const g = new dagre.graphlib.Graph({ compound: true });
  g.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 70, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const group of graph.groups) g.setNode(`group:${group}`, { label: group });
  for (const key of graph.keys) {
    g.setNode(key, { width: NODE_WIDTH, height: NODE_HEIGHT });
    g.setParent(key, `group:${graph.get(key).group}`);
  }
  for (const key of graph.keys) for (const up of graph.upstreamOf(key)) g.setEdge(up, key);
  dagre.layout(g);
  const label = g.graph();
  return {
    width: Math.ceil(label.width ?? 0),
    height: Math.ceil(label.height ?? 0),
    nodes: graph.keys.map((key) => {
      const node = g.node(key);
      return { key, x: node.x, y: node.y };
    }),
    groups: graph.groups.map((group) => {
      const node = g.node(`group:${group}`);
      return { group, x: node.x, y: node.y, width: node.width, height: node.height };
    }),
    edges: g.edges().map((edge: { v: string; w: string }) => ({
      from: edge.v,
      to: edge.w,
      points: (g.edge(edge) as { points?: { x: number; y: number }[] }).points ?? [],
    })),
  };
}
