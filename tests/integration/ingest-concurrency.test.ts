import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineConfig } from '../../assets/config.ts';
import { assets } from '../../assets/index.ts';
import { AssetGraph } from '../../engine/graph.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { copyLanding } from '../support/landing-copy.ts';
import { runInProcess } from '../support/run-plan.ts';

// Two snapshot months loading at the same moment must still see each other's accounts.
let database: TestDatabase;
let landing: string;
beforeAll(async () => {
  database = await createTestDatabase();
  landing = copyLanding();
  // In 2025-10, customers 1 and 2 swap their account ids: an account that moved between customers.
  const path = join(landing, 'customers', '2025-10.csv');
  const lines = readFileSync(path, 'utf8').split('\n');
  const swap = (line: string, account: string) => line.replace(/^(\d+),\d+,/, `$1,${account},`);
  const account = (line: string | undefined) => line?.split(',')[1] ?? '';
  const [first, second] = [lines[1], lines[2]];
  lines[1] = swap(first ?? '', account(second));
  lines[2] = swap(second ?? '', account(first));
  writeFileSync(path, lines.join('\n'));
});
afterAll(async () => {
  rmSync(landing, { recursive: true, force: true });
  await database.drop();
});

describe('customer_snapshots loaded concurrently', () => {
  it('rejects an account that moved between customers whichever month commits first', async () => {
    const graph = new AssetGraph<PipelineConfig>(assets);
    for (let attempt = 0; attempt < 3; attempt++) {
      await database.sql`truncate customer_snapshots`;
      const { detail } = await runInProcess({
        database,
        graph,
        selection: ['customer_snapshots'],
        partitions: { from: '2025-09', to: '2025-10' },
        config: { landingDir: landing, exportDir: '/tmp', allowBadRows: 0 },
        concurrency: 2,
      });
      const statuses = detail?.nodes.map((node) => node.status).sort();
      expect(statuses).toEqual(['failed', 'succeeded']);
      const failed = detail?.nodes.find((node) => node.status === 'failed');
      expect(failed?.error).toMatch(
        /account_id: account_id \d+ belongs to customer \d+ in the 2025-(09|10) snapshot/,
      );
    }
  });
});
