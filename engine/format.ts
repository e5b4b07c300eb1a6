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

// ESC sequences a terminal acts on: CSI (ESC [ … final byte), OSC/DCS/SOS/PM/APC strings (up to
// BEL or ESC \, or the end of the line when unterminated), and any other ESC with what follows it.
const ESCAPE_SEQUENCE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /\u001b\[[0-?]*[ -/]*[@-~]?|\u001b[\]PX^_][^\u0007\u001b\n]*(?:\u0007|\u001b\\)?|\u001b[ -/]*[0-~]?/g;
// C0 controls but tab and line feed, DEL, C1 controls (0x9b is CSI on some terminals).
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Text from data or from errors (a customer name, a landing file's value, a message), as it may be
 * printed to a terminal: escape sequences and control characters removed — one could set the
 * window title, clear the screen or hide what follows. Line breaks and tabs stay unless
 * `oneLine`, which turns them into spaces (a table cell).
 */
export function printable(text: string, options: { oneLine?: boolean } = {}): string {
  const cleaned = text.replace(ESCAPE_SEQUENCE, '').replace(CONTROL, '');
  return options.oneLine ? cleaned.replace(/[\n\t]/g, ' ') : cleaned;
}

/** Left-aligned columns separated by two spaces; cells are printable, on one line. */
export function table(header: string[], data: string[][]): string {
  const rows = data.map((row) => row.map((cell) => printable(cell, { oneLine: true })));
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
