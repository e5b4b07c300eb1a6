import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { TestDatabase } from './database.ts';

/**
 * The fixture's expected answers (tests/fixtures/small/expected-*.json) held against a database:
 * money and percentages to the cent (as text), counts exactly, statistics to 1e-9 relative.
 */

export type Row = Record<string, string | number | null>;
export type ExpectedAnswers = Record<string, Row[]>;

export const expectedAnswers = (name: string): ExpectedAnswers =>
  JSON.parse(readFileSync(fileURLToPath(new URL(`../fixtures/small/${name}`, import.meta.url)), 'utf8'));

/** Each table's key, to sort both sides the same way. */
const KEYS: Record<string, string[]> = {
  industry_exposure: ['industry'],
  segment_distribution: ['segment'],
  segment_changes: ['customer_id', 'changed_month'],
  top_customers: ['revenue_rank'],
  consistently_active_top_customers: ['customer_id'],
  customer_revenue_categories: ['customer_id'],
  industry_exposure_extended: ['industry'],
  descriptive_statistics: ['table_name', 'column_name'],
  customers_revenue_by_period: ['customer_id'],
};

/** Every table the fixture has answers for. */
export const ANSWER_TABLES = Object.keys(KEYS);

/** The table's rows for the period (all of it when unpartitioned), with the expected columns as text or numbers. */
async function actualRows(database: TestDatabase, table: string, period: string, like: Row): Promise<Row[]> {
  // Money, percentages and dates are compared as text (exact to the cent); the rest as numbers.
  const columns = Object.entries(like)
    .map(([column, value]) =>
      typeof value === 'string' ? `"${column}"::text as "${column}"` : `"${column}"`,
    )
    .join(', ');
  const where = table === 'customers_revenue_by_period' ? '' : `where period = '${period}'`;
  const rows = await database.sql.unsafe<Row[]>(`select ${columns} from ${table} ${where}`);
  // postgres.js reads bigint (n) as a string: a count, compared as a number.
  return rows.map((row) =>
    Object.fromEntries(
      Object.entries(row).map(([column, value]) => [
        column,
        typeof like[column] === 'number' && typeof value === 'string' ? Number(value) : value,
      ]),
    ),
  );
}

const sortKey = (table: string) => (row: Row) =>
  (KEYS[table] ?? []).map((column) => String(row[column]).padStart(12, ' ')).join('|');

/** One table's rows for the period hold exactly the wanted rows. */
export async function expectTable(database: TestDatabase, table: string, period: string, wanted: Row[]) {
  expect(wanted.length, `${table}: the fixture has rows`).toBeGreaterThan(0);
  const byKey = sortKey(table);
  const sorted = (rows: Row[]) => [...rows].sort((a, b) => byKey(a).localeCompare(byKey(b)));
  const got = sorted(await actualRows(database, table, period, wanted[0] as Row));
  const want = sorted(wanted);
  expect(got.map(byKey), `${table}: keys`).toEqual(want.map(byKey));
  want.forEach((row, i) => {
    for (const [column, value] of Object.entries(row)) {
      const actualValue = got[i]?.[column];
      const where = `${table} ${byKey(row).trim()} ${column}`;
      if (table === 'descriptive_statistics' && typeof value === 'number') {
        expect(typeof actualValue, where).toBe('number');
        const difference = Math.abs((actualValue as number) - value);
        expect(difference, where).toBeLessThanOrEqual(1e-9 * Math.max(Math.abs(value), Number.MIN_VALUE));
      } else expect(actualValue, where).toEqual(value);
    }
  });
}

/** Every answer table for the period holds exactly the expected answers. */
export async function expectAnswers(database: TestDatabase, period: string, answers: ExpectedAnswers) {
  expect(Object.keys(answers).sort()).toEqual([...ANSWER_TABLES].sort());
  for (const table of ANSWER_TABLES) await expectTable(database, table, period, answers[table] ?? []);
}
