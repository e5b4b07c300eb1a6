import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOY_TABLES_SQL } from '../fixtures/toy-assets.ts';
import { type CliResult, REPO_ROOT, runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { serverUrl, withDatabase } from '../support/urls.ts';

const TOY_ASSETS = join(REPO_ROOT, 'tests/fixtures/toy-assets.ts');
const ALL_TOY_KEYS = ['daily', 'joined', 'left', 'right', 'rolling', 'source', 'summary'];
const MART_KEYS = ['left', 'right', 'rolling', 'joined'];
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

let database: TestDatabase;
let databaseUrl: string;

beforeAll(async () => {
  database = await createTestDatabase();
  databaseUrl = withDatabase(serverUrl(), database.name);
  await database.sql.unsafe(TOY_TABLES_SQL);
});

afterAll(async () => {
  await database?.drop();
});

/** The CLI against this file's database and the toy assets; asset logs stay off unless a test asks. */
function pipeline(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, {
    env: { DATABASE_URL: databaseUrl, PIPELINE_ASSETS: TOY_ASSETS, LOG_LEVEL: undefined, ...env },
  });
}

type Run = { id: string; status: string; nodes: number };
/** Every run the tests started, oldest first, as the CLI reported it. */
const runs: Run[] = [];

/** `materialize … --in-process`; records the run from its header and summary lines. */
async function materialize(args: string[], env: Record<string, string> = {}) {
  const result = await pipeline(['materialize', ...args, '--in-process'], env);
  const header = result.stdout.match(new RegExp(`^run (${UUID}): (\\d+) nodes? \\(`));
  if (!header) throw new Error(`no run header in:\n${result.stdout}\n${result.stderr}`);
  const id = header[1] as string;
  const summary = result.stdout.match(new RegExp(`^run ${id} (\\w+): `, 'm'));
  const run = { id, status: summary?.[1] ?? 'missing', nodes: Number(header[2]) };
  runs.push(run);
  return { ...result, run, lines: result.stdout.trimEnd().split('\n') };
}

/** The rows of a table printed by the CLI (columns separated by two or more spaces), header first. */
function tableRows(text: string, firstHeader: string): string[][] {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => line.startsWith(firstHeader));
  expect(start, `no ${firstHeader} table in:\n${text}`).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (const line of lines.slice(start)) {
    if (line.trim() === '') break;
    rows.push(line.trimEnd().split(/ {2,}/));
  }
  return rows;
}

function expectOneCleanLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
  expect(stderr).not.toContain('unexpected error');
  return lines[0] ?? '';
}

async function toyValues(): Promise<Map<string, number>> {
  const rows = await database.sql<{ asset: string; partition: string; value: string }[]>`
    select asset, partition, value from toy_values order by asset, partition`;
  return new Map(
    rows.map((row) => [row.partition ? `${row.asset}[${row.partition}]` : row.asset, Number(row.value)]),
  );
}

type AssetJson = {
  key: string;
  group: string;
  partitioned: string | null;
  deps: string[];
  lastMaterialization: { partition: string | null; at: string; runId: string } | null;
};

describe('pipeline assets, before any run', () => {
  it('lists all seven toy assets with group, partitioning, deps and `never`', async () => {
    const result = await pipeline(['assets']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const [header, ...rows] = tableRows(result.stdout, 'KEY');
    expect(header).toEqual([
      'KEY',
      'GROUP',
      'PARTITIONED',
      'DEPS',
      'STATE',
      'LATEST MONTH',
      'LAST MATERIALIZED',
    ]);
    // No landing files and no run yet: no months to count; the unpartitioned ones are missing.
    expect(rows).toEqual([
      ['source', 'raw', 'no', '—', '1 missing', '—', 'never'],
      ['daily', 'raw', 'monthly', 'source', '—', '—', 'never'],
      ['left', 'mart', 'monthly', 'daily', '—', '—', 'never'],
      ['right', 'mart', 'monthly', 'daily', '—', '—', 'never'],
      ['rolling', 'mart', 'monthly', 'daily[3m]', '—', '—', 'never'],
      ['joined', 'mart', 'monthly', 'left,right', '—', '—', 'never'],
      ['summary', 'report', 'no', 'joined', '1 missing', '—', 'never'],
    ]);
  });

  it("'group:mart' lists exactly the mart assets", async () => {
    const result = await pipeline(['assets', 'group:mart']);
    expect(result.code).toBe(0);
    const [, ...rows] = tableRows(result.stdout, 'KEY');
    expect(rows.map((row) => row[0])).toEqual(MART_KEYS);
    expect(rows.every((row) => row[1] === 'mart')).toBe(true);
  });

  it('--json has every asset with a null lastMaterialization', async () => {
    const result = await pipeline(['assets', '--json']);
    expect(result.code).toBe(0);
    const assets = JSON.parse(result.stdout) as AssetJson[];
    expect(assets.map((a) => a.key).sort()).toEqual(ALL_TOY_KEYS);
    expect(assets.find((a) => a.key === 'rolling')).toMatchObject({
      group: 'mart',
      partitioned: 'monthly',
      deps: ['daily[3m]'],
    });
    expect(assets.find((a) => a.key === 'source')).toMatchObject({ partitioned: null, deps: [] });
    for (const asset of assets) expect(asset.lastMaterialization).toBeNull();
  });

  it('an unknown asset exits 2 with one line listing the valid assets', async () => {
    const result = await pipeline(['assets', 'nope']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const line = expectOneCleanLine(result.stderr);
    expect(line).toContain("unknown asset 'nope'");
    expect(line).toContain(`valid assets are ${ALL_TOY_KEYS.join(', ')}`);
  });

  it('an unknown group exits 2 with one line listing the valid groups', async () => {
    const result = await pipeline(['assets', 'group:nope']);
    expect(result.code).toBe(2);
    const line = expectOneCleanLine(result.stderr);
    expect(line).toContain("unknown group 'nope'");
    expect(line).toContain('valid groups are mart, raw, report');
  });
});

describe('pipeline materialize --in-process', () => {
  it("'*' over two months materializes 12 nodes and writes the toy values", async () => {
    const result = await materialize(['*', '--from', '2026-09', '--to', '2026-10']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { id } = result.run;
    expect(result.lines[0]).toBe(`run ${id}: 12 nodes (selection '*', partitions 2026-09..2026-10)`);
    const done = result.lines.filter((line) => line.startsWith('  ✓ '));
    expect(done).toHaveLength(12);
    expect(result.stdout).not.toMatch(/[✗↻–] /);
    expect(result.lines.at(-1)).toMatch(
      new RegExp(`^run ${id} succeeded: 12 succeeded, 0 failed in \\d+ ms$`),
    );

    // Each ✓ line reports the value the asset wrote, and every node wrote exactly one row.
    const reported = new Map(
      done.map((line) => {
        const match = line.match(/^ {2}✓ (\S+) {2}\d+ ms {2}.*\bvalue=(\d+)/);
        if (!match) throw new Error(`unexpected line: ${line}`);
        return [match[1] as string, Number(match[2])];
      }),
    );
    const values = await toyValues();
    expect([...values.keys()].sort()).toEqual(
      [
        'source',
        'summary',
        ...['daily', 'left', 'right', 'rolling', 'joined'].flatMap((k) => [`${k}[2026-09]`, `${k}[2026-10]`]),
      ].sort(),
    );
    expect(Object.fromEntries(reported)).toEqual(Object.fromEntries(values));
    // value = 1 + the sum of the upstream asset's values at the time it ran.
    expect(values.get('source')).toBe(1);
    expect(values.get('daily[2026-09]')).toBe(2);
    expect(values.get('daily[2026-10]')).toBe(2);
    expect(values.get('summary')).toBe(
      1 + (values.get('joined[2026-09]') ?? Number.NaN) + (values.get('joined[2026-10]') ?? Number.NaN),
    );
    for (const value of values.values()) expect(value).toBeGreaterThan(0);

    const [events] = await database.sql<{ starts: number; ends: number }[]>`
      select count(*) filter (where event = 'start')::int as starts, count(*) filter (where event = 'end')::int as ends
      from toy_events where run_id = ${id}`;
    expect(events).toEqual({ starts: 12, ends: 12 });
  });

  it('a failing node is retried, then fails; its dependants wait, pending, and its siblings still run', async () => {
    const result = await materialize(['*', '--partition', '2026-10'], { TOY_FAIL: 'left[2026-10]' });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
    const { id } = result.run;
    expect(result.lines[0]).toBe(`run ${id}: 7 nodes (selection '*', partitions 2026-10..2026-10)`);
    expect(result.lines).toContain(
      '  ↻ left[2026-10]  attempt 1 failed, retrying in 10 ms: toy failure of left[2026-10]',
    );
    expect(result.lines.filter((line) => line.startsWith('  ↻ '))).toHaveLength(1);
    expect(result.lines).toContainEqual(
      expect.stringMatching(/^ {2}✗ left\[2026-10\] {2}\d+ ms {2}toy failure of left\[2026-10\]$/),
    );
    expect(result.lines).toContain('  – joined[2026-10]  pending: upstream left[2026-10] failed');
    expect(result.lines).toContain('  – summary  pending: upstream left[2026-10] failed');
    const succeeded = result.lines.filter((l) => l.startsWith('  ✓ ')).map((l) => l.split(/ {2}/)[1]);
    expect(succeeded.map((s) => s?.slice(2)).sort()).toEqual([
      'daily[2026-10]',
      'right[2026-10]',
      'rolling[2026-10]',
      'source',
    ]);
    expect(result.lines.at(-1)).toMatch(
      new RegExp(`^run ${id} failed: 4 succeeded, 1 failed, 2 pending in \\d+ ms$`),
    );
  });

  it('an input error is not retried (and --concurrency 1 runs one node at a time)', async () => {
    const result = await materialize(['*', '--partition', '2026-10', '--concurrency', '1'], {
      TOY_INPUT_ERROR: 'left[2026-10]',
    });
    expect(result.code).toBe(1);
    expect(result.stdout).not.toContain('↻');
    expect(result.lines).toContainEqual(
      expect.stringMatching(
        /^ {2}✗ left\[2026-10\] {2}\d+ ms {2}toy\/left\[2026-10\]\.csv:2: value: not a number$/,
      ),
    );
    expect(result.lines).toContain('  – joined[2026-10]  pending: upstream left[2026-10] failed');
    expect(result.lines.at(-1)).toMatch(/ failed: 4 succeeded, 1 failed, 2 pending in \d+ ms$/);

    // With one slot, each node ends before the next starts: the events alternate start, end.
    const events = await database.sql<{ asset: string; event: string }[]>`
      select asset, event from toy_events where run_id = ${result.run.id} order by at, id`;
    expect(events).toHaveLength(8);
    events.forEach((event, i) => {
      expect(event.event).toBe(i % 2 === 0 ? 'start' : 'end');
      if (i % 2 === 1) expect(event.asset).toBe(events[i - 1]?.asset);
    });
  });

  it('a failing error check rolls the write back and keeps the previous value', async () => {
    // left[2026-10] failed last: joined alone would be refused for reading it (the state tests).
    expect((await materialize(['*', '--partition', '2026-10'])).code).toBe(0);
    const good = await materialize(['joined', '--partition', '2026-10']);
    expect(good.code).toBe(0);
    expect(good.lines[0]).toBe(
      `run ${good.run.id}: 1 node (selection 'joined', partitions 2026-10..2026-10)`,
    );
    const before = (await toyValues()).get('joined[2026-10]');
    expect(before).toBeGreaterThan(0);

    const bad = await materialize(['joined', '--partition', '2026-10'], {
      TOY_CHECK_FAIL: 'joined[2026-10]',
    });
    expect(bad.stderr).toBe('');
    expect(bad.code).toBe(1);
    expect(bad.lines).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^ {2}✗ joined\\[2026-10\\] {2}\\d+ ms {2}check positive \\(value -${before} is not positive\\) failed; the write was rolled back$`,
        ),
      ),
    );
    expect(bad.lines).toContain(`      ! check positive (error) failed: value -${before} is not positive`);
    expect(bad.lines.at(-1)).toMatch(/ failed: 0 succeeded, 1 failed in \d+ ms$/);
    expect((await toyValues()).get('joined[2026-10]')).toBe(before);

    const shown = await pipeline(['run', bad.run.id.slice(0, 8)]);
    expect(shown.code).toBe(0);
    const lines = shown.stdout.split('\n');
    expect(lines[0]).toBe(`run ${bad.run.id}  failed`);
    expect(lines).toContain(`  joined[2026-10] positive (error) FAILED: value -${before} is not positive`);
    expect(lines).toContain(`  joined[2026-10] small (warn) FAILED: value ${before} is large`);
    expect(lines).toContainEqual(
      expect.stringMatching(/^ {2}joined\[2026-10\]: .*check positive .* failed; the write was rolled back$/),
    );
    const [, node] = tableRows(shown.stdout, 'NODE');
    expect(node?.slice(0, 3)).toEqual(['joined[2026-10]', 'failed', '1']);
  });

  it('assets --json then shows the last successful materialization of each asset, with its partition', async () => {
    const result = await pipeline(['assets', '--json']);
    expect(result.code).toBe(0);
    const assets = JSON.parse(result.stdout) as AssetJson[];
    const byKey = new Map(assets.map((a) => [a.key, a]));
    const ours = new Set(runs.map((r) => r.id));
    for (const asset of assets) {
      const last = asset.lastMaterialization;
      expect(last, asset.key).not.toBeNull();
      expect(ours.has(last?.runId ?? '')).toBe(true);
      if (asset.partitioned) expect(last?.partition, asset.key).toMatch(/^2026-(09|10)$/);
      else expect(last?.partition, asset.key).toBeNull();
    }
    // The rolled-back run is not a materialization: joined's last one is the good run before it.
    const goodJoined = runs.at(-2);
    expect(byKey.get('joined')?.lastMaterialization).toMatchObject({
      partition: '2026-10',
      runId: goodJoined?.id,
    });
    // summary last ran with the '*' run that preceded the check test.
    expect(byKey.get('summary')?.lastMaterialization?.runId).toBe(runs.at(-3)?.id);
  });

  describe('usage errors exit 2 without starting a run', () => {
    const countRuns = async () => {
      const [row] = await database.sql<{ n: number }[]>`select count(*)::int as n from runs`;
      return row?.n;
    };
    let runsBefore: number | undefined;
    beforeAll(async () => {
      runsBefore = await countRuns();
    });
    afterAll(async () => {
      expect(await countRuns()).toBe(runsBefore);
    });

    it('a partitioned asset without a partition names it and says to pass --partition', async () => {
      const result = await pipeline(['materialize', 'daily', '--in-process']);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      const line = expectOneCleanLine(result.stderr);
      expect(line).toContain('daily');
      expect(line).toContain('--partition');
    });

    it('a partition that is not a month', async () => {
      const result = await pipeline(['materialize', 'daily', '--partition', '2026-13', '--in-process']);
      expect(result.code).toBe(2);
      expect(expectOneCleanLine(result.stderr)).toContain("'2026-13' is not a month");
    });

    it('--partition together with --from', async () => {
      const result = await pipeline([
        'materialize',
        'daily',
        '--partition',
        '2026-10',
        '--from',
        '2026-09',
        '--in-process',
      ]);
      expect(result.code).toBe(2);
      expect(expectOneCleanLine(result.stderr)).toContain('either --partition or --from/--to');
    });

    it('without --in-process and without Redis it names Redis and how to start it, and records no run', async () => {
      const before = await database.sql<{ n: number }[]>`select count(*)::int as n from runs`;
      const result = await pipeline(['materialize', 'daily', '--partition', '2026-10'], {
        REDIS_URL: 'redis://127.0.0.1:1',
      });
      expect(result.code).toBe(3);
      expect(expectOneCleanLine(result.stderr)).toContain('Redis is not reachable at redis://127.0.0.1:1');
      expect(await database.sql`select count(*)::int as n from runs`).toEqual(before);
    });
  });
});

describe('pipeline runs and run', () => {
  it('runs lists every run newest first with its status, partitions and node counts', async () => {
    const result = await pipeline(['runs']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const [header, ...rows] = tableRows(result.stdout, 'RUN');
    expect(header).toEqual([
      'RUN',
      'STATUS',
      'TRIGGER',
      'SELECTION',
      'PARTITIONS',
      'CREATED',
      'DURATION',
      'NODES',
    ]);
    const newestFirst = [...runs].reverse();
    expect(runs.map((r) => r.status)).toEqual([
      'succeeded',
      'failed',
      'failed',
      'succeeded',
      'succeeded',
      'failed',
    ]);
    expect(rows.map((row) => [row[0], row[1]])).toEqual(newestFirst.map((r) => [r.id.slice(0, 8), r.status]));
    expect(rows.at(-1)).toEqual([
      runs[0]?.id.slice(0, 8),
      'succeeded',
      'cli',
      '*',
      '2026-09..2026-10',
      expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/),
      expect.stringMatching(/^\d+ ms$/),
      '12 succeeded',
    ]);
    expect(rows.at(-2)?.[7]).toBe('1 failed, 2 pending, 4 succeeded');
  });

  it('runs --json --limit 2 is the two newest runs', async () => {
    const result = await pipeline(['runs', '--json', '--limit', '2']);
    expect(result.code).toBe(0);
    const listed = JSON.parse(result.stdout) as { id: string; status: string; nodeCounts: object }[];
    expect(listed).toHaveLength(2);
    expect(listed[0]).toMatchObject({ id: runs.at(-1)?.id, status: runs.at(-1)?.status });
    expect(listed[0]?.status).toBe('failed');
    expect(listed[0]?.nodeCounts).toEqual({ failed: 1 });
    expect(listed[1]?.id).toBe(runs.at(-2)?.id);
  });

  it('run <8-char prefix> shows the full id, status and a NODE table with attempts', async () => {
    const failed = runs[1] as Run;
    const result = await pipeline(['run', failed.id.slice(0, 8)]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe(`run ${failed.id}  failed`);
    expect(lines).toContain("  trigger cli, executor in-process, selection '*'");
    expect(lines).toContain('  partitions 2026-10..2026-10');
    const [header, ...rows] = tableRows(result.stdout, 'NODE');
    expect(header).toEqual(['NODE', 'STATUS', 'ATTEMPTS', 'DURATION', 'METADATA']);
    const byNode = Object.fromEntries(rows.map((row) => [row[0], [row[1], row[2]]]));
    expect(byNode).toEqual({
      source: ['succeeded', '1'],
      'daily[2026-10]': ['succeeded', '1'],
      'left[2026-10]': ['failed', '2'],
      'right[2026-10]': ['succeeded', '1'],
      'rolling[2026-10]': ['succeeded', '1'],
      'joined[2026-10]': ['pending', '0'],
      summary: ['pending', '0'],
    });
    expect(lines).toContainEqual(
      expect.stringMatching(/^ {2}left\[2026-10\]: .*toy failure of left\[2026-10\]$/),
    );
  });

  it('run --json has the run, its nodes and its check results', async () => {
    const first = runs[0] as Run;
    const result = await pipeline(['run', first.id, '--json']);
    expect(result.code).toBe(0);
    const detail = JSON.parse(result.stdout) as {
      run: { id: string; status: string; partitionFrom: string; partitionTo: string };
      nodes: { assetKey: string; partitionKey: string; status: string; attempts: number }[];
      checks: {
        assetKey: string;
        partitionKey: string;
        checkName: string;
        severity: string;
        passed: boolean;
      }[];
    };
    expect(detail.run).toMatchObject({
      id: first.id,
      status: 'succeeded',
      partitionFrom: '2026-09',
      partitionTo: '2026-10',
    });
    expect(detail.nodes).toHaveLength(12);
    for (const node of detail.nodes) expect(node).toMatchObject({ status: 'succeeded', attempts: 1 });
    const checks = detail.checks.map(
      (c) => `${c.assetKey}[${c.partitionKey}] ${c.checkName} ${c.severity} ${c.passed}`,
    );
    expect(checks.sort()).toEqual([
      'joined[2026-09] positive error true',
      'joined[2026-09] small warn false',
      'joined[2026-10] positive error true',
      'joined[2026-10] small warn false',
    ]);
  });

  it('run of an id that does not exist exits 2', async () => {
    const result = await pipeline(['run', '00000000']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(expectOneCleanLine(result.stderr)).toContain('no run 00000000');
  });

  it('bad --limit values and an empty run id are usage errors', async () => {
    for (const limit of ['abc', '-1', '0']) {
      const result = await pipeline(['runs', '--limit', limit]);
      expect(result.code).toBe(2);
      expect(expectOneCleanLine(result.stderr)).toContain(
        `--limit must be a whole number from 1 to 10000, got '${limit}'`,
      );
    }
    const empty = await pipeline(['run', '']);
    expect(empty.code).toBe(2);
    expect(expectOneCleanLine(empty.stderr)).toContain('give a run id');
  });
});

describe('asset definition errors', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'pipeline-cli-engine-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  /** A module of assets outside the repo; .mts so it loads as ESM without a package.json. */
  function assetModule(name: string, assets: string[]): string {
    const path = join(scratch, `${name}.mts`);
    const engineAsset = pathToFileURL(join(REPO_ROOT, 'engine/asset.ts')).href;
    writeFileSync(
      path,
      [
        `import { defineAsset } from ${JSON.stringify(engineAsset)};`,
        'const materialize = async () => ({ rowCount: 0 });',
        `export const assets = [${assets.map((spec) => `defineAsset({ ${spec}, group: 'g', description: 'd', materialize })`).join(', ')}];`,
        '',
      ].join('\n'),
    );
    return path;
  }

  it('two assets with the same key: exit 1, one line, no stack trace', async () => {
    const path = assetModule('duplicate', ["key: 'a'", "key: 'b'", "key: 'a'"]);
    const result = await pipeline(['assets'], { PIPELINE_ASSETS: path });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(expectOneCleanLine(result.stderr)).toContain("duplicate asset key 'a'");
  });

  it('a PIPELINE_ASSETS module that cannot be loaded is one line, exit 2', async () => {
    const missing = join(scratch, 'missing.mts');
    const result = await pipeline(['assets'], { PIPELINE_ASSETS: missing });
    expect(result.code).toBe(2);
    expect(expectOneCleanLine(result.stderr)).toContain(`PIPELINE_ASSETS ${missing} cannot be loaded`);
  });

  it('a dependency cycle names its path', async () => {
    const path = assetModule('cycle', ["key: 'a', deps: ['b']", "key: 'b', deps: ['a']"]);
    const result = await pipeline(['assets'], { PIPELINE_ASSETS: path });
    expect(result.code).toBe(1);
    expect(expectOneCleanLine(result.stderr)).toMatch(/dependency cycle: (a → b → a|b → a → b)/);
  });
});
