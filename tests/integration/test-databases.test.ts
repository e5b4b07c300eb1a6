import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

// The harness every later suite relies on: each clone is migrated and sees only its own rows.
describe('test databases', () => {
  const opened: TestDatabase[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((database) => database.drop()));
  });

  it('are migrated clones that do not share rows', async () => {
    const [first, second] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    if (!first || !second) throw new Error('clones were not created');
    opened.push(first, second);
    expect(first.name).not.toBe(second.name);
    await first.sql`insert into channels values (1, 'SMS', 'SMS', 0.05)`;
    const [inFirst] = await first.sql<{ count: number }[]>`select count(*)::int as count from channels`;
    const [inSecond] = await second.sql<{ count: number }[]>`select count(*)::int as count from channels`;
    expect(inFirst?.count).toBe(1);
    expect(inSecond?.count).toBe(0);
  });
});
