/**
 * What the dashboard takes from a query string or a form, checked: one value per field (a field
 * given twice is a 400, not a crash), whole numbers in range. Bad input is a 400 naming the field.
 */

/** An error the error handler answers with its own status and message (both safe to show). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The field as one trimmed string; undefined when absent or blank; a 400 when given more than once. */
export function field(source: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = source?.[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new HttpError(400, `'${name}' must be given once`);
  return value.trim() || undefined;
}

/** A page number: 1 when absent, a 400 for anything but a whole number from 1 to `max`. */
export function pageNumber(source: Record<string, unknown>, max: number): number {
  const value = field(source, 'page');
  if (value === undefined) return 1;
  const parsed = Number(value);
  if (!/^\d{1,9}$/.test(value) || parsed < 1 || parsed > max) {
    throw new HttpError(400, `'page' must be a whole number from 1 to ${max}`);
  }
  return parsed;
}
