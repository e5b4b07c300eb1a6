import { UsageError } from './errors.ts';

/**
 * Calendar months as partition keys (`YYYY-MM`). A month is held as its index
 * year * 12 + (month - 1), so arithmetic is integer arithmetic and never touches time zones.
 */
export type Month = number;

const MONTH_KEY = /^(\d{4})-(\d{2})$/;

export function parseMonth(key: string, what = 'month'): Month {
  const match = MONTH_KEY.exec(key);
  const month = match ? Number(match[2]) : 0;
  if (!match || month < 1 || month > 12) {
    throw new UsageError(`${what} '${key}' is not a month: expected YYYY-MM, e.g. 2026-10`);
  }
  return Number(match[1]) * 12 + month - 1;
}

export function monthKey(month: Month): string {
  return `${String(Math.floor(month / 12)).padStart(4, '0')}-${String((month % 12) + 1).padStart(2, '0')}`;
}

export function yearOf(month: Month): number {
  return Math.floor(month / 12);
}

/** 1-based calendar month number. */
export function monthNumberOf(month: Month): number {
  return (month % 12) + 1;
}

export function daysInMonth(month: Month): number {
  return new Date(Date.UTC(yearOf(month), (month % 12) + 1, 0)).getUTCDate();
}

/** `YYYY-MM-01`, the value of a partition's `period` column. */
export function firstDay(month: Month): string {
  return `${monthKey(month)}-01`;
}

/** `YYYY-MM-DD` of the month's last day: a partition's as_of date. */
export function lastDay(month: Month): string {
  return `${monthKey(month)}-${String(daysInMonth(month)).padStart(2, '0')}`;
}

export function monthOfDate(date: Date): Month {
  return date.getUTCFullYear() * 12 + date.getUTCMonth();
}

/** The month before the one containing `now`, in UTC: the last complete month. */
export function lastCompleteMonth(now: Date = new Date()): Month {
  return monthOfDate(now) - 1;
}

/** Every month from `from` to `to`, inclusive. */
export function monthRange(from: Month, to: Month): Month[] {
  const months: Month[] = [];
  for (let month = from; month <= to; month++) months.push(month);
  return months;
}
