import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  date,
  dateInMonth,
  decimal,
  required,
  type ValueRule,
  wholeNumber,
} from '../../assets/ingest/rules.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

/**
 * The three layers of a value rule must agree, or a value could skip the checks it needs: whatever
 * the Node shape accepts (the file then skips the SQL scan) and whatever the SQL fast-path regex
 * accepts (the row then skips the detailed rules), the detailed rule must find nothing wrong with.
 * Checked on values chosen to sit on every edge.
 */
let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

const SAMPLES = [
  '',
  ' ',
  '0',
  '7',
  '007',
  '-1',
  '-0.5',
  '+1',
  '1e3',
  '12a',
  '123456789',
  '1234567890',
  '2147483647',
  '2147483648',
  '99999999999',
  '1.5',
  '1.50',
  '1.505',
  '.5',
  '5.',
  '1..2',
  '12345678901.25',
  '0.0001',
  '2026-10-01',
  '2026-10-31',
  '2026-10-32',
  '2026-11-01',
  '2026-02-29',
  '2024-02-29',
  '2026-13-01',
  '0000-01-15',
  '2026-1-1',
  '01/10/2026',
  '2026-04-31',
  '2026-04-30',
  '1900-02-29',
  '2000-02-29',
  '0001-01-01',
  'Müller GmbH',
  '  padded  ',
  'tab\there',
  'N'.repeat(100),
  'N'.repeat(101),
  'x\u001fy',
];

const RULES: [string, ValueRule][] = [
  ['wholeNumber', wholeNumber('v')],
  ['decimal(2, 10)', decimal('v', 2, 10)],
  ['decimal(4, 6)', decimal('v', 4, 6)],
  ['date', date('v')],
  ['dateInMonth 2026-10', dateInMonth('v', '2026-10', 31)],
  ['required(100)', required('v', 100)],
];

describe('value rules: the Node shape and the SQL fast path accept nothing the detailed rule rejects', () => {
  it.each(RULES)('%s', async (_name, rule) => {
    const rows = await database.sql<{ v: string; fast: boolean; reason: string | null }[]>`
      select v, coalesce(v ~ ${`^${rule.valid}$`} ${database.sql.unsafe(rule.alsoValid ? `and ${rule.alsoValid}` : '')}, false) as fast,
        ${database.sql.unsafe(rule.reason)} as reason
      from unnest(${SAMPLES}::text[]) as v`;
    let accepted = 0;
    for (const row of rows) {
      const bytes = Buffer.from(row.v);
      if (rule.shape(bytes, bytes.length, false)) {
        accepted++;
        expect(row.reason, `the shape accepts ${JSON.stringify(row.v)}`).toBeNull();
      }
      if (row.fast) expect(row.reason, `the fast path accepts ${JSON.stringify(row.v)}`).toBeNull();
    }
    expect(accepted).toBeGreaterThan(0); // the samples exercise the accepting side too
  });
});
