/**
 * Lexical shapes of field values, checked in Node on the bytes as they stream to COPY. A shape
 * accepts only values its SQL rule certainly accepts; a file whose every field has its shape skips
 * the SQL value scan, and any other file gets the full, detailed SQL validation.
 */
export type FieldShape = (bytes: Uint8Array, length: number, quoted: boolean) => boolean;

const ZERO = 48;
const NINE = 57;
const DOT = 46;
const SPACE = 32;

const isDigit = (byte: number | undefined) => byte !== undefined && byte >= ZERO && byte <= NINE;

function digitsAt(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (!isDigit(bytes[i])) return false;
  return true;
}

const twoDigits = (bytes: Uint8Array, at: number) =>
  ((bytes[at] ?? 0) - ZERO) * 10 + ((bytes[at + 1] ?? 0) - ZERO);

/** 1 to `max` digits, unquoted. */
export const digits =
  (max: number): FieldShape =>
  (bytes, length, quoted) =>
    !quoted && length >= 1 && length <= max && digitsAt(bytes, 0, length);

/** [0-9]{1,digits}(.[0-9]{1,scale})?, unquoted. */
export const decimalShape =
  (digitsBefore: number, scale: number): FieldShape =>
  (bytes, length, quoted) => {
    if (quoted || length === 0) return false;
    let dot = -1;
    for (let i = 0; i < length; i++) {
      if (bytes[i] === DOT) {
        if (dot !== -1) return false;
        dot = i;
      } else if (!isDigit(bytes[i])) return false;
    }
    if (dot === -1) return length <= digitsBefore;
    return dot >= 1 && dot <= digitsBefore && length - dot - 1 >= 1 && length - dot - 1 <= scale;
  };

/** `prefix` (e.g. "2026-10-") then a day 01 … maxDay. */
export const dayOf = (prefix: string, maxDay: number): FieldShape => {
  const expected = Buffer.from(prefix);
  return (bytes, length, quoted) => {
    if (quoted || length !== expected.length + 2) return false;
    for (let i = 0; i < expected.length; i++) if (bytes[i] !== expected[i]) return false;
    if (!digitsAt(bytes, expected.length, length)) return false;
    const day = twoDigits(bytes, expected.length);
    return day >= 1 && day <= maxDay;
  };
};

/** A real calendar date written YYYY-MM-DD (year 0001 or later). */
export const dateShape: FieldShape = (bytes, length, quoted) => {
  if (quoted || length !== 10 || bytes[4] !== 45 || bytes[7] !== 45) return false;
  if (!digitsAt(bytes, 0, 4) || !digitsAt(bytes, 5, 7) || !digitsAt(bytes, 8, 10)) return false;
  const year = twoDigits(bytes, 0) * 100 + twoDigits(bytes, 2);
  const month = twoDigits(bytes, 5);
  const day = twoDigits(bytes, 8);
  return year > 0 && month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month);
};

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Anything with a character other than a space (quoted or not), of at most `maxLength` bytes —
 * which is at most `maxLength` characters; longer UTF-8 text is measured in characters by SQL.
 */
export const nonBlankUpTo =
  (maxLength: number): FieldShape =>
  (bytes, length) => {
    if (length > maxLength) return false;
    for (let i = 0; i < length; i++) if (bytes[i] !== SPACE) return true;
    return false;
  };
