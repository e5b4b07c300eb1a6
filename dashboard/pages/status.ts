import type { AssetStateGrid, CellState, PartitionState } from '../../engine/asset-state.ts';
import { formatTime } from '../../engine/format.ts';
import { nodeId } from '../../engine/node.ts';
import { type Html, html } from '../html.ts';

/** The asset × month grid of states: every cell a link to the run of its latest materialization or failure. */

export const STATE_LABEL: Record<PartitionState, string> = {
  materialized: '✓',
  stale: '~',
  failed: '✗',
  missing: '·',
  running: '▸',
  absent: '',
};

export const STATE_STYLE = `
  table.grid { width: auto; } table.grid td, table.grid th { padding: 2px 4px; text-align: center; font-size: 12px; }
  table.grid td.asset, table.grid th.asset { text-align: left; white-space: nowrap; }
  td.cell a { display: block; width: 22px; height: 18px; line-height: 18px; text-decoration: none; color: #1f2328; }
  .s-materialized { background: #dafbe1; } .s-stale { background: #fff8c5; } .s-failed { background: #ffebe9; }
  .s-missing { background: #f6f8fa; } .s-running { background: #ddf4ff; } .s-absent { background: #fff; }
  .strip { display: flex; flex-wrap: wrap; gap: 2px; margin: 6px 0 16px; }
  .strip span { display: inline-block; border: 1px solid #d0d7de; }
  .strip a { display: block; width: 34px; height: 22px; line-height: 22px; font-size: 11px; text-align: center;
    text-decoration: none; color: #1f2328; }
  .legend span { display: inline-block; padding: 0 6px; margin-right: 6px; border: 1px solid #d0d7de; }
`;

/** Where a cell links: the run its state comes from (a success, a failure, the attempt running). */
export function cellHref(cell: CellState): string | undefined {
  return cell.runId ? `/runs/${cell.runId}` : undefined;
}

export function cellTitle(cell: CellState): string {
  const when = cell.materializedAt ? `, materialized ${formatTime(cell.materializedAt)}` : '';
  return `${nodeId(cell.assetKey, cell.partitionKey)}: ${cell.state}${cell.reason ? ` (${cell.reason})` : ''}${when}`;
}

function cellLink(cell: CellState, text: string): Html {
  const href = cellHref(cell);
  const id = nodeId(cell.assetKey, cell.partitionKey);
  return href
    ? html`<a href="${href}" title="${cellTitle(cell)}" data-node="${id}" data-state="${cell.state}">${text}</a>`
    : html`<a title="${cellTitle(cell)}" data-node="${id}" data-state="${cell.state}">${text}</a>`;
}

export function legend(): Html {
  return html`<p class="legend">${(
    ['materialized', 'stale', 'failed', 'missing', 'running', 'absent'] as const
  ).map((state) => html`<span class="s-${state}">${STATE_LABEL[state] || ' '} ${state}</span>`)}</p>`;
}

export function statusGrid(
  grid: AssetStateGrid,
  keys: readonly string[],
  partitioned: (key: string) => boolean,
  months: string[],
): Html {
  const years = months.map((month, i) => (i === 0 || month.endsWith('-01') ? month.slice(0, 4) : ''));
  const problems = keys
    .flatMap((key) => (partitioned(key) ? months : ['']).map((month) => grid.cell(key, month)))
    .filter((cell) => cell.reason && cell.state !== 'missing');
  return html`${legend()}
  <div class="graph"><table class="grid" id="status-grid">
    <tr><th class="asset"></th><th></th>${years.map((year) => html`<th>${year}</th>`)}</tr>
    <tr><th class="asset">asset</th><th title="unpartitioned assets">·</th>${months.map((month) => html`<th>${month.slice(5)}</th>`)}</tr>
    ${keys.map((key) => {
      const row = partitioned(key)
        ? html`<td></td>${months.map((month) => {
            const cell = grid.cell(key, month);
            return html`<td class="cell s-${cell.state}">${cellLink(cell, STATE_LABEL[cell.state])}</td>`;
          })}`
        : html`<td class="cell s-${grid.cell(key, '').state}">${cellLink(grid.cell(key, ''), STATE_LABEL[grid.cell(key, '').state])}</td>${months.map(() => html`<td></td>`)}`;
      return html`<tr data-asset="${key}"><td class="asset"><a href="/assets/${encodeURIComponent(key)}">${key}</a></td>${row}</tr>`;
    })}
  </table></div>
  ${
    problems.length === 0
      ? ''
      : html`<h2>Stale, failed and warnings</h2><table id="reasons"><tr><th>partition</th><th>state</th><th>why</th></tr>
    ${problems.map(
      (cell) => html`<tr><td>${cellLink(cell, nodeId(cell.assetKey, cell.partitionKey))}</td>
        <td class="s-${cell.state}">${cell.state === 'materialized' ? 'warning' : cell.state}</td><td>${cell.reason}</td></tr>`,
    )}</table>`
  }`;
}

/** One asset's partitions in a row: its page's strip. */
export function partitionStrip(grid: AssetStateGrid, key: string, partitioned: boolean): Html {
  const cells = partitioned ? grid.months.map((month) => grid.cell(key, month)) : [grid.cell(key, '')];
  return html`<div class="strip" id="partition-strip">${cells.map(
    (cell) =>
      html`<span class="s-${cell.state}">${cellLink(cell, partitioned ? cell.partitionKey.slice(2) : STATE_LABEL[cell.state])}</span>`,
  )}</div>`;
}

/** How many of an asset's partitions need work, for its node in the graph. */
export function problemCounts(
  grid: AssetStateGrid,
  key: string,
  partitioned: boolean,
): Record<'missing' | 'stale' | 'failed', number> {
  const counts = { missing: 0, stale: 0, failed: 0 };
  for (const month of partitioned ? grid.months : ['']) {
    const { state } = grid.cell(key, month);
    if (state === 'missing' || state === 'stale' || state === 'failed') counts[state]++;
  }
  return counts;
}
