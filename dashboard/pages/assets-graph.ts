import { formatDuration as formatMs, formatTime as formatWhen } from '../../engine/format.ts';
import type { AssetGraph } from '../../engine/graph.ts';
import type { AssetActivity } from '../../engine/run-history.ts';
import { type GraphLayout, NODE_HEIGHT, NODE_WIDTH } from '../graph-layout.ts';
import { type Html, html } from '../html.ts';

const FILL: Record<string, string> = {
  succeeded: '#dafbe1',
  skipped: '#dafbe1',
  failed: '#ffebe9',
  running: '#ddf4ff',
  queued: '#ddf4ff',
  pending: '#f6f8fa',
  canceled: '#f6f8fa',
};
const STROKE: Record<string, string> = {
  succeeded: '#1a7f37',
  skipped: '#1a7f37',
  failed: '#cf222e',
  running: '#0969da',
  queued: '#0969da',
};

/** The asset graph as an SVG picture: groups as boxes, assets coloured by their last status, links to each asset. */
export function graphSvg<Config>(
  graph: AssetGraph<Config>,
  layout: GraphLayout,
  states: Map<string, AssetActivity>,
  counts: Map<string, Record<'missing' | 'stale' | 'failed', number>>,
): Html {
  const groups = layout.groups.map(
    (g) => html`<g class="group"><rect x="${g.x - g.width / 2}" y="${g.y - g.height / 2}" width="${g.width}"
      height="${g.height}" rx="8" fill="none" stroke="#8c959f" stroke-dasharray="4 3"/>
      <text x="${g.x - g.width / 2 + 8}" y="${g.y - g.height / 2 + 14}" font-size="12" fill="#57606a">${g.group}</text></g>`,
  );
  const edges = layout.edges.map((edge) => {
    const d = edge.points
      .map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x.toFixed(1)},${p.y.toFixed(1)}`)
      .join(' ');
    return html`<path d="${d}" fill="none" stroke="#8c959f" stroke-width="1.5" marker-end="url(#arrow)"/>`;
  });
  const nodes = layout.nodes.map((node) => {
    const state = states.get(node.key);
    const status = state?.status ?? 'never';
    const left = node.x - NODE_WIDTH / 2;
    const top = node.y - NODE_HEIGHT / 2;
    const detail = state?.status
      ? `${state.partitionKey || 'unpartitioned'} · ${formatWhen(state.at).slice(5, 16)}`
      : 'never materialized';
    const figures = state?.status
      ? `${formatMs(state.durationMs)}${state.rowCount !== null ? ` · ${state.rowCount.toLocaleString('en-US')} row${state.rowCount === 1 ? '' : 's'}` : ''}`
      : graph.get(node.key).group;
    const problems = counts.get(node.key) ?? { missing: 0, stale: 0, failed: 0 };
    const needsWork = (['missing', 'stale', 'failed'] as const).filter((state) => problems[state] > 0);
    const partitionsLine =
      needsWork.length === 0
        ? 'every partition current'
        : needsWork.map((state) => `${problems[state]} ${state}`).join(' · ');
    return html`<a href="/assets/${encodeURIComponent(node.key)}" class="asset" data-asset="${node.key}" data-status="${status}"
      data-missing="${problems.missing}" data-stale="${problems.stale}" data-failed="${problems.failed}">
      <rect x="${left}" y="${top}" width="${NODE_WIDTH}" height="${NODE_HEIGHT}" rx="6"
        fill="${FILL[status] ?? '#ffffff'}" stroke="${STROKE[status] ?? '#8c959f'}" stroke-width="1.5"/>
      <text x="${left + 10}" y="${top + 20}" font-size="13" font-weight="600">${node.key}</text>
      <text x="${left + 10}" y="${top + 38}" font-size="11" fill="#57606a">${status} · ${detail}</text>
      <text x="${left + 10}" y="${top + 55}" font-size="11" fill="#57606a">${figures}</text>
      <text x="${left + 10}" y="${top + 72}" font-size="11" fill="${needsWork.length > 0 ? '#9a6700' : '#1a7f37'}" class="partitions">${partitionsLine}</text></a>`;
  });
  return html`<svg id="asset-graph" xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}"
    viewBox="0 0 ${layout.width} ${layout.height}" role="img" aria-label="asset graph">
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
      <path d="M 0 0 L 10 5 L 0 10 z" fill="#8c959f"/></marker></defs>
    ${groups}${edges}${nodes}</svg>`;
}
