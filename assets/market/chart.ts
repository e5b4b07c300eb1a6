import escapeHtml from 'escape-html';

/** A series of one symbol: its closes normalised to 100 at the first common date. */
export type NormalisedSeries = { symbol: string; points: { date: string; value: number }[] };

const WIDTH = 900;
const HEIGHT = 420;
const MARGIN = { top: 40, right: 120, bottom: 40, left: 60 };
const COLOURS = ['#0969da', '#cf222e', '#1a7f37', '#8250df', '#bc4c00', '#1b7c83'];

/**
 * A line chart (SVG) of each symbol's close normalised to 100 at the first common date, with
 * both axes, a legend and a title. Pure: the same series give the same bytes.
 */
export function normalisedPriceChart(series: NormalisedSeries[], title: string): string {
  const dates = [...new Set(series.flatMap((s) => s.points.map((p) => p.date)))].sort();
  const values = series.flatMap((s) => s.points.map((p) => p.value));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  if (dates.length === 0 || values.length === 0) {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}"><text x="20" y="40">${escapeHtml(title)}: no common trading dates</text></svg>`;
  }
  const ticks = niceTicks(Math.min(100, ...values), Math.max(100, ...values), 6);
  const low = ticks[0] ?? 0;
  const high = ticks.at(-1) ?? 1;
  const dateIndex = new Map(dates.map((date, i) => [date, i]));
  const x = (date: string) =>
    MARGIN.left + ((dateIndex.get(date) ?? 0) / Math.max(dates.length - 1, 1)) * plotWidth;
  const y = (value: number) => MARGIN.top + plotHeight - ((value - low) / (high - low || 1)) * plotHeight;
  const yAxis = ticks
    .map(
      (tick) =>
        `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="#eaeef2"/>` +
        `<text x="${MARGIN.left - 8}" y="${(y(tick) + 4).toFixed(1)}" text-anchor="end" font-size="11">${tick}</text>`,
    )
    .join('');
  const xAxis = dateLabels(dates, x)
    .map(
      ({ date, text }) =>
        `<line x1="${x(date).toFixed(1)}" x2="${x(date).toFixed(1)}" y1="${MARGIN.top + plotHeight}" y2="${MARGIN.top + plotHeight + 5}" stroke="#57606a"/>` +
        `<text x="${x(date).toFixed(1)}" y="${MARGIN.top + plotHeight + 18}" text-anchor="middle" font-size="11">${text}</text>`,
    )
    .join('');
  const lines = series
    .map((s, i) => {
      const d = s.points
        .map((p, j) => `${j === 0 ? 'M' : 'L'}${x(p.date).toFixed(1)},${y(p.value).toFixed(1)}`)
        .join(' ');
      return `<path d="${d}" fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="1.5" data-symbol="${escapeHtml(s.symbol)}"/>`;
    })
    .join('');
  const legend = series
    .map(
      (s, i) =>
        `<g transform="translate(${MARGIN.left + plotWidth + 16}, ${MARGIN.top + 10 + i * 20})"><line x1="0" x2="18" y1="0" y2="0" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="3"/><text x="24" y="4" font-size="12">${escapeHtml(s.symbol)}</text></g>`,
    )
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, sans-serif">
<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>
<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${escapeHtml(title)}</text>
${yAxis}${xAxis}
<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotHeight}" stroke="#57606a"/>
<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${MARGIN.top + plotHeight}" y2="${MARGIN.top + plotHeight}" stroke="#57606a"/>
<text x="16" y="${MARGIN.top + plotHeight / 2}" transform="rotate(-90 16 ${MARGIN.top + plotHeight / 2})" text-anchor="middle" font-size="12">close, first common date = 100</text>
${lines}${legend}
</svg>
`;
}

/** Labels closer than this (px) to the one before are left out, so none overlap. */
const MIN_LABEL_GAP = 70;

/**
 * The x axis's labels: every date of a very short series; else the first date, the first trading
 * date of each later year and the last date. A long series (years on the axis) names its first
 * and last month (YYYY-MM), so a first label in July does not read as the start of its year.
 */
function dateLabels(dates: string[], x: (date: string) => number): { date: string; text: string }[] {
  const last = dates.length - 1;
  const long = dates.length > 400;
  const candidates =
    dates.length <= 10
      ? dates.map((date) => ({ date, text: date }))
      : dates.flatMap((date, i) => {
          const newYear = i > 0 && date.slice(0, 4) !== dates[i - 1]?.slice(0, 4);
          if (i !== 0 && i !== last && !newYear) return [];
          const text = !long ? date : newYear && i !== last ? date.slice(0, 4) : date.slice(0, 7);
          return [{ date, text }];
        });
  const kept: { date: string; text: string }[] = [];
  for (const label of candidates) {
    const previous = kept.at(-1);
    if (previous && x(label.date) - x(previous.date) < MIN_LABEL_GAP) {
      // The last date outranks a year label crowding it; the first date stays.
      if (label.date !== dates[last] || kept.length === 1) continue;
      kept.pop();
    }
    kept.push(label);
  }
  return kept;
}

/** Round tick values covering [min, max]: steps of 1, 2 or 5 × a power of ten. */
export function niceTicks(min: number, max: number, count: number): number[] {
  const span = max - min || 1;
  const rough = span / Math.max(count - 1, 1);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 5, 10].find((f) => f * power >= rough) ?? 10) * power;
  const first = Math.floor(min / step) * step;
  const ticks: number[] = [];
  for (let tick = first; tick <= max + step / 2; tick += step) ticks.push(Number(tick.toFixed(10)));
  if ((ticks.at(-1) ?? 0) < max) ticks.push(Number((first + ticks.length * step).toFixed(10)));
  return ticks;
}
