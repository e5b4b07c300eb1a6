import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOY_TABLES_SQL } from '../fixtures/toy-assets.ts';
import { type CliChild, type CliResult, REPO_ROOT, runCli, startCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { deleteRedisKeys, waitFor } from '../support/processes.ts';
import { redisUrl, serverUrl, withDatabase } from '../support/urls.ts';

/**
 * Two runs that bring the same nodes up to date at once (the monthly tick and the sensor, or two
 * `--stale` runs) never compute a node twice: the advisory lock makes the second wait, and when
 * its turn comes it finds the node current and skips it. A plain `materialize` recomputes what it
 * selects. Real workers on the toy graph, through the CLI.
 */

const TOY_ASSETS = join(REPO_ROOT, 'tests/fixtures/toy-assets.ts');
const PREFIX = `test-skip-current-${randomUUID()}`;
const RANGE = ['--from', '2026-01', '--to', '2026-03'];
const TIMEOUT = 120_000;

let database: TestDatabase;
let databaseUrl: string;
let worker: CliChild | undefined;

const env = () => ({
  DATABASE_URL: databaseUrl,
  REDIS_URL: redisUrl(),
  QUEUE_PREFIX: PREFIX,
  PIPELINE_ASSETS: TOY_ASSETS,
  LOG_LEVEL: 'warn',
  // Long enough nodes that the two runs' jobs overlap on the worker.
  TOY_SLEEP_MS: '150',
});
const cli = (args: string[]): Promise<CliResult> => runCli(args, { env: env(), timeoutMs: TIMEOUT });
const runIdOf = (result: CliResult) => {
  const id = /run ([0-9a-f-]{36})/.exec(result.stdout)?.[1];
  expect(id, result.stdout + result.stderr).toBeDefined();
  return id as string;
};
const nodeStatuses = async (runId: string) =>
  new Map(
    (
      await database.sql<{ id: string; status: string }[]>`
        select case when partition_key = '' then asset_key else asset_key || '[' || partition_key || ']' end as id, status
        from run_nodes where run_id = ${runId}`
    ).map((row) => [row.id, row.status]),
  );
const materializationsSince = async (since: Date) => {
  const rows = await database.sql<{ id: string; n: number }[]>`
    select case when partition_key = '' then asset_key else asset_key || '[' || partition_key || ']' end as id, count(*)::int as n
    from materializations where materialized_at > ${since.toISOString()}::timestamptz group by 1`;
  return new Map(rows.map((row) => [row.id, row.n]));
};
const ended = (runId: string) =>
  waitFor(
    `run ${runId} to end`,
    async () => {
      const [row] = await database.sql<{ status: string }[]>`select status from runs where id = ${runId}`;
      return row && !['queued', 'running'].includes(row.status) ? row.status : undefined;
    },
    { timeoutMs: TIMEOUT, detail: () => worker?.stderr().slice(-2000) ?? '' },
  );

beforeAll(async () => {
  database = await createTestDatabase();
  databaseUrl = withDatabase(serverUrl(), database.name);
  await database.sql.unsafe(TOY_TABLES_SQL);
  const first = await cli(['materialize', '*', ...RANGE, '--in-process']);
  expect(first.code, first.stderr).toBe(0);
}, TIMEOUT);

afterAll(async () => {
  await worker?.stop();
  await deleteRedisKeys(redisUrl(), PREFIX);
  await database?.drop();
});

describe('two runs bringing the same nodes up to date', () => {
  it(
    'compute each node once: the second run finds it current and skips it',
    async () => {
      // Everything downstream of source becomes stale.
      await database.sql`update materializations set data_version = 'changed since' where asset_key = 'source'`;
      const since = new Date();
      // Both queued before any worker runs: the same nodes, planned against the same state.
      const a = runIdOf(await cli(['materialize', '*', ...RANGE, '--stale', '--no-wait']));
      const b = runIdOf(await cli(['materialize', '*', ...RANGE, '--stale', '--no-wait']));
      const planned = [...(await nodeStatuses(a)).keys()].sort();
      expect([...(await nodeStatuses(b)).keys()].sort()).toEqual(planned);
      expect(planned).toContain('summary');
      expect(planned).not.toContain('source');
      worker = startCli(['worker', '--concurrency', '3'], { env: env() });
      await worker.waitForStdout(/worker ready/, 60_000);
      expect(await ended(a)).toBe('succeeded');
      expect(await ended(b)).toBe('succeeded');
      const [statusA, statusB] = [await nodeStatuses(a), await nodeStatuses(b)];
      for (const node of planned) {
        expect([statusA.get(node), statusB.get(node)].sort(), node).toEqual(['skipped', 'succeeded']);
      }
      const written = await materializationsSince(since);
      expect([...written.keys()].sort()).toEqual(planned);
      expect([...written.values()].every((n) => n === 1)).toBe(true);
      // A skipped node says which run made it current.
      const [skipped] = await database.sql<{ reason: string; run_id: string }[]>`
      select metadata->>'skipped' as reason, run_id from run_nodes where run_id in (${a}, ${b}) and status = 'skipped' limit 1`;
      const other = skipped?.run_id === a ? b : a;
      expect(skipped?.reason).toMatch(new RegExp(`^current: run ${other.slice(0, 8)} materialized it at `));
      // `runs`/`run` show it as skipped, and the run's summary counts it.
      const shown = await cli(['run', skipped?.run_id ?? '']);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toContain('skipped');
    },
    TIMEOUT,
  );

  it(
    'a plain materialize recomputes what it selects, current or not',
    async () => {
      const since = new Date();
      const a = runIdOf(await cli(['materialize', 'daily', ...RANGE, '--no-wait']));
      const b = runIdOf(await cli(['materialize', 'daily', ...RANGE, '--no-wait']));
      expect(await ended(a)).toBe('succeeded');
      expect(await ended(b)).toBe('succeeded');
      expect(new Set([...(await nodeStatuses(a)).values(), ...(await nodeStatuses(b)).values()])).toEqual(
        new Set(['succeeded']),
      );
      expect([...(await materializationsSince(since)).values()]).toEqual([2, 2, 2]);
    },
    TIMEOUT,
  );
});
