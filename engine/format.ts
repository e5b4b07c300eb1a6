/** Small formatting helpers for people reading runs: the CLI's lines and the dashboard's pages. */

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(2)} s`;
  return `${Math.floor(ms / 60_000)} m ${Math.round((ms % 60_000) / 1_000)} s`;
}

export function formatTime(value: Date | string | null | undefined): string {
  if (!value) return '—';
  return new Date(value)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

/** Left-aligned columns separated by two spaces. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function formatMetadata(metadata: unknown): string {
  if (!metadata || typeof metadata !== 'object') return '';
  // rowCount first, then by name: jsonb does not keep the order the asset returned.
  return Object.entries(metadata as Record<string, unknown>)
    .sort(([a], [b]) => (a === 'rowCount' ? -1 : b === 'rowCount' ? 1 : a.localeCompare(b)))
    .map(([key, value]) => `${key}=${typeof value === 'number' ? Number(value.toFixed(3)) : String(value)}`)
    .join(' ');
}
