import type { Materialization } from '../../engine/run-history.ts';
import { type Html, html } from '../html.ts';

const WIDTH = 640;
const HEIGHT = 120;

/** Row count (bars) and duration (line) of the latest materializations, oldest on the left. */
export function historyChart(history: Materialization[]): Html {
  const points = [...history].reverse();
  const step = WIDTH / Math.max(points.length, 1);
  const maxRows = Math.max(1, ...points.map((m) => m.rowCount ?? 0));
  const maxMs = Math.max(1, ...points.map((m) => m.durationMs));
  const bars = points.map((m, i) => {
    const height = ((m.rowCount ?? 0) / maxRows) * (HEIGHT - 20);
    return html`<rect x="${(i * step + 1).toFixed(1)}" y="${(HEIGHT - height).toFixed(1)}" width="${Math.max(step - 2, 1).toFixed(1)}"
      height="${height.toFixed(1)}" fill="#54aeff"><title>${m.partitionKey || 'unpartitioned'}: ${m.rowCount ?? 0} rows</title></rect>`;
  });
  const line = points
    .map(
      (m, i) =>
        `${(i * step + step / 2).toFixed(1)},${(HEIGHT - (m.durationMs / maxMs) * (HEIGHT - 20)).toFixed(1)}`,
    )
    .join(' ');
  return html`<svg id="history-chart" width="${WIDTH}" height="${HEIGHT + 16}" viewBox="0 0 ${WIDTH} ${HEIGHT + 16}" role="img"
    aria-label="rows and duration of the latest materializations">
    <rect width="${WIDTH}" height="${HEIGHT}" fill="#fff" stroke="#d0d7de"/>${bars}
    <polyline points="${line}" fill="none" stroke="#cf222e" stroke-width="1.5"/>
    <text x="4" y="${HEIGHT + 12}" font-size="11" fill="#57606a">bars: rows (max ${maxRows.toLocaleString('en-US')}) · line: duration (max ${maxMs} ms)</text></svg>`;
}
