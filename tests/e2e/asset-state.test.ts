import { createHash } from 'node:crypto';
import {
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOY_TABLES_SQL } from '../fixtures/toy-assets.ts';
import { type CliResult, REPO_ROOT, runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { ANSWER_TABLES, expectAnswers, expectedAnswers, expectTable } from '../support/fixture-answers.ts';
import {
  monthsBetween,
  nodeId,
  nodesOf,
  PARTITIONED,
  UNPARTITIONED,
  WINDOWED_ANSWERS,
} from '../support/graph-nodes.ts';
import { copyLanding } from '../support/landing-copy.ts';
import { serverUrl, withDatabase } from '../support/urls.ts';

/**
 * The asset state end to end, through the real CLI (`--in-process`) against PostgreSQL: refusal of
 * runs that would read missing partitions, --upstream / --missing / --stale / --dry-run, `status`
 * (states, reasons, --check), data versions of landing files (a changed byte makes the month and
 * everything downstream stale; a byte-identical rewrite does not), absent vs missing months, a new
 * month, a failed attempt on good data, code versions (toy graph), and `assets`' STATE column.
 * Each describe has its own database and its own copy of the fixture landing zone; the tests of a
 * describe build on each other in order.
 */

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const TOY_ASSETS = join(REPO_ROOT, 'tests/fixtures/toy-assets.ts');
const NOT_MARKET = '* -group:market';

const MONTHS = monthsBetween('2025-09', '2026-10');
const sorted = (ids: Iterable<string>) => [...ids].sort();

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

// ── the CLI against one describe's database and landing copy ────────────────────────────────────

type Cell = {
  asset: string;
  partition: string | null;
  state: string;
  reason: string | null;
  materializedAt: string | null;
  dataVersion: string | null;
};

type DryRun = { result: CliResult; ids: string[]; why: Map<string, string>; notes: string[] };

type Stage = {
  database: TestDatabase;
  landing: string;
  cli: (args: string[], env?: Record<string, string | undefined>) => Promise<CliResult>;
  /** `status ARGS --json`, which must succeed; the cells by node id. */
  status: (args?: string[], env?: Record<string, string | undefined>) => Promise<Map<string, Cell>>;
  /** `materialize ARGS --in-process`: the CLI's result, the run's id and its nodes (from run_nodes). */
  materialize: (
    args: string[],
    env?: Record<string, string | undefined>,
  ) => Promise<{ result: CliResult; runId: string; nodes: Map<string, string> }>;
  /** `materialize ARGS --dry-run`, which must succeed: every node and why, in the plan's order. */
  dryRun: (args: string[], env?: Record<string, string | undefined>) => Promise<DryRun>;
  runCount: () => Promise<number>;
};

/** A database of the describe's own, and (unless toy) a private copy of the fixture landing zone. */
function useStage(options: { toy?: boolean; prepare?: (landing: string) => void } = {}): Stage {
  let database: TestDatabase | undefined;
  let landing = '';
  let url = '';
  beforeAll(async () => {
    database = await createTestDatabase();
    url = withDatabase(serverUrl(), database.name);
    if (options.toy) await database.sql.unsafe(TOY_TABLES_SQL);
    else {
      landing = copyLanding();
      options.prepare?.(landing);
    }
  });
  afterAll(async () => {
    await database?.drop();
    if (landing) rmSync(landing, { recursive: true, force: true });
  });

  const cli: Stage['cli'] = (args, env = {}) =>
    runCli(args, {
      env: {
        DATABASE_URL: url,
        LANDING_DIR: options.toy ? undefined : landing,
        PIPELINE_ASSETS: options.toy ? TOY_ASSETS : undefined,
        LOG_LEVEL: undefined,
        ...env,
      },
      timeoutMs: 180_000,
    });

  const stage: Stage = {
    get database() {
      if (!database) throw new Error('no database yet');
      return database;
    },
    get landing() {
      return landing;
    },
    cli,
    status: async (args = [], env = {}) => {
      const result = await cli(['status', ...args, '--json'], env);
      expect(result.stderr, `status ${args.join(' ')} --json`).toBe('');
      expect(result.code).toBe(0);
      const cells = JSON.parse(result.stdout) as Cell[];
      return new Map(cells.map((cell) => [nodeId(cell.asset, cell.partition), cell]));
    },
    materialize: async (args, env = {}) => {
      const result = await cli(['materialize', ...args, '--in-process'], env);
      const header = result.stdout.match(new RegExp(`^run (${UUID}): \\d+ nodes? \\(`));
      if (!header) throw new Error(`no run header in:\n${result.stdout}\n${result.stderr}`);
      const runId = header[1] as string;
      const rows = await stage.database.sql<{ asset_key: string; partition_key: string; status: string }[]>`
        select asset_key, partition_key, status from run_nodes where run_id = ${runId}`;
      return {
        result,
        runId,
        nodes: new Map(rows.map((row) => [nodeId(row.asset_key, row.partition_key), row.status])),
      };
    },
    dryRun: async (args, env = {}) => {
      const result = await cli(['materialize', ...args, '--dry-run'], env);
      expect(result.stderr, `materialize ${args.join(' ')} --dry-run`).toBe('');
      expect(result.code).toBe(0);
      const lines = result.stdout.trimEnd().split('\n');
      const start = lines.findIndex((line) => /^dry run: \d+ nodes? would run$/.test(line));
      expect(start, result.stdout).toBeGreaterThanOrEqual(0);
      const planned = lines.slice(start + 1).map((line) => {
        const match = line.match(/^ {2}(\S+) {2}(.*)$/);
        if (!match) throw new Error(`not a plan line: ${JSON.stringify(line)}`);
        return [match[1] as string, match[2] as string] as const;
      });
      expect(lines[start]).toBe(
        `dry run: ${planned.length} node${planned.length === 1 ? '' : 's'} would run`,
      );
      const notes = lines.slice(0, start);
      return { result, ids: planned.map(([id]) => id), why: new Map(planned), notes };
    },
    runCount: async () => {
      const [row] = await stage.database.sql<{ n: number }[]>`select count(*)::int as n from runs`;
      return row?.n ?? -1;
    },
  };
  return stage;
}

/** The cells that are not materialized, as `id → state`. */
function notMaterialized(cells: Map<string, Cell>): Record<string, string> {
  return Object.fromEntries(
    [...cells.values()]
      .filter((cell) => cell.state !== 'materialized')
      .map((cell) => [nodeId(cell.asset, cell.partition), cell.state]),
  );
}

function cellOf(cells: Map<string, Cell>, id: string): Cell {
  const cell = cells.get(id);
  if (!cell) throw new Error(`no cell ${id} among ${[...cells.keys()].join(', ')}`);
  return cell;
}

/** The cells of every non-market asset over MONTHS (unpartitioned ones once). */
const ALL_CELLS = [...UNPARTITIONED, ...nodesOf(PARTITIONED, MONTHS)];

/** md5 of every row of each analytics table (every period; last_updated aside). */
async function answerFingerprints(database: TestDatabase): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const table of [...ANSWER_TABLES, 'customer_month_revenue', 'traffic_value_counts']) {
    const [row] = await database.sql.unsafe<{ md5: string; n: number }[]>(
      `select md5(coalesce(string_agg((to_jsonb(t) - 'last_updated')::text, '|' order by (to_jsonb(t) - 'last_updated')::text), '')) as md5,
        count(*)::int as n from ${table} t`,
    );
    result[table] = `${row?.n}:${row?.md5}`;
  }
  return result;
}

const REFUSED =
  'pipeline: refused: the run would read missing or failed partitions it does not materialize: ';

// ── 1–6, 9, 11: one landing copy, from an empty database to every cell current and back ─────────

describe('the fixture landing zone, from an empty database', () => {
  const stage = useStage();
  /** The one row of traffic/2026-03.csv the tests change, and its edit (same size: +0.09 EUR for customer 1). */
  const ORIGINAL_ROW = '2026-03-01,500007,1,4,822,122.20\r\n';
  const EDITED_ROW = '2026-03-01,500007,1,4,822,122.29\r\n';

  it('refuses a run that reads partitions nobody loaded, naming the root gaps and the command that loads them', async () => {
    const result = await stage.cli([
      'materialize',
      'top_customers',
      '--partition',
      '2026-10',
      '--in-process',
    ]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    // top_customers[2026-10] reads customer_month_revenue[2025-11…2026-10] ← traffic ← channels and
    // customers ← every snapshot: the roots are what has no missing input of its own.
    expect(result.stderr).toBe(
      `${REFUSED}channels, customer_snapshots[2025-09…2026-10]\n` +
        '  materialize them in the same run with: npx pipeline materialize top_customers --partition 2026-10 --in-process --upstream missing\n',
    );
    expect(await stage.runCount()).toBe(0);
  });

  it("refuses '+top_customers' for 2026-10 too, naming traffic[2025-11…2026-09] (its window's months the run does not load)", async () => {
    const result = await stage.cli([
      'materialize',
      '+top_customers',
      '--partition',
      '2026-10',
      '--in-process',
    ]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `${REFUSED}customer_snapshots[2025-09…2026-09], traffic[2025-11…2026-09]\n` +
        '  materialize them in the same run with: npx pipeline materialize +top_customers --partition 2026-10 --in-process --upstream missing\n',
    );
    expect(await stage.runCount()).toBe(0);
  });

  const upstreamRun = ['+top_customers', '--partition', '2026-10', '--upstream', 'missing'];
  const upstreamPlan = [
    'channels',
    'customers',
    ...nodesOf(['customer_snapshots'], MONTHS),
    ...nodesOf(['traffic', 'customer_month_revenue'], monthsBetween('2025-11', '2026-10')),
    'top_customers[2026-10]',
  ];

  it('--dry-run with --upstream missing prints each node and why, and starts nothing', async () => {
    const plan = await stage.dryRun(upstreamRun);
    expect(plan.notes).toEqual([]);
    expect(sorted(plan.ids)).toEqual(sorted(upstreamPlan));
    expect(plan.ids).toHaveLength(41);
    expect(plan.why.get('top_customers[2026-10]')).toBe('selected');
    expect(plan.why.get('traffic[2026-10]')).toBe('selected');
    expect(plan.why.get('customer_month_revenue[2025-11]')).toBe(
      'upstream of top_customers[2026-10]: missing',
    );
    expect(plan.why.get('traffic[2025-11]')).toBe('upstream of customer_month_revenue[2025-11]: missing');
    expect(plan.why.get('customer_snapshots[2025-09]')).toBe('upstream of customers: missing');
    // Dependencies come first in the plan.
    expect(plan.ids.indexOf('traffic[2026-01]')).toBeLessThan(
      plan.ids.indexOf('customer_month_revenue[2026-01]'),
    );
    expect(plan.ids.at(-1)).toBe('top_customers[2026-10]');
    expect(await stage.runCount()).toBe(0);
  });

  it("'+top_customers' --partition 2026-10 --upstream missing runs that plan and answers Q4 exactly as the fixture", async () => {
    const { result, nodes } = await stage.materialize(upstreamRun);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(sorted(nodes.keys())).toEqual(sorted(upstreamPlan));
    expect(new Set(nodes.values())).toEqual(new Set(['succeeded']));
    await expectTable(
      stage.database,
      'top_customers',
      '2026-10-01',
      expectedAnswers('expected-2026-10.json').top_customers ?? [],
    );
    const cells = await stage.status([NOT_MARKET]);
    expect(cellOf(cells, 'top_customers[2026-10]').state).toBe('materialized');
    expect(cellOf(cells, 'top_customers[2026-09]').state).toBe('missing');
    // A month with a landing file that was not loaded is missing, with no reason to give.
    expect(cellOf(cells, 'traffic[2025-10]')).toMatchObject({ state: 'missing', reason: null });
    // A landing file's data version is its SHA-256.
    expect(cellOf(cells, 'traffic[2026-03]').dataVersion).toBe(
      sha256(join(stage.landing, 'traffic/2026-03.csv')),
    );
    expect(cellOf(cells, 'channels').dataVersion).toBe(sha256(join(stage.landing, 'channels.csv')));
  });

  it('a full load makes every non-market cell materialized; status --check exits 0', async () => {
    const { result, nodes } = await stage.materialize([NOT_MARKET, '--from', '2025-09', '--to', '2026-10']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(nodes.size).toBe(171);
    const cells = await stage.status([NOT_MARKET]);
    expect(sorted(cells.keys())).toEqual(sorted(ALL_CELLS));
    expect(notMaterialized(cells)).toEqual({});
    expect([...cells.values()].filter((cell) => cell.reason !== null)).toEqual([]);
    const check = await stage.cli(['status', NOT_MARKET, '--check']);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
  });

  it('then --missing has nothing to materialize (exit 0, no run) and --stale --dry-run lists nothing', async () => {
    const runs = await stage.runCount();
    const missing = await stage.cli(['materialize', NOT_MARKET, '--missing', '--in-process']);
    expect(missing.stderr).toBe('');
    expect(missing.code).toBe(0);
    expect(missing.stdout).toBe('nothing to materialize: every selected partition is current\n');
    const stale = await stage.dryRun([NOT_MARKET, '--stale']);
    expect(stale.ids).toEqual([]);
    expect(stale.result.stdout).toBe('dry run: 0 nodes would run\n');
    expect(await stage.runCount()).toBe(runs);
  });

  it('a byte-identical rewrite of landing files (new mtime) makes nothing stale', async () => {
    const rewritten = ['traffic/2026-04.csv', 'customers/2026-04.csv', 'channels.csv'];
    const later = new Date(Date.now() + 60_000);
    for (const file of rewritten) {
      const path = join(stage.landing, file);
      writeFileSync(path, readFileSync(path));
      utimesSync(path, later, later);
    }
    const cells = await stage.status([NOT_MARKET]);
    expect(notMaterialized(cells)).toEqual({});
    expect(cellOf(cells, 'traffic[2026-04]').reason).toBeNull();
    // The check did see the new fingerprint (size:mtime) and, the bytes being equal, kept it.
    const info = statSync(join(stage.landing, 'traffic/2026-04.csv'));
    const [recorded] = await stage.database.sql<{ fingerprint: string }[]>`
      select source->>'fingerprint' as fingerprint from materializations
      where asset_key = 'traffic' and partition_key = '2026-04' order by materialized_at desc limit 1`;
    expect(recorded?.fingerprint).toBe(`${info.size}:${Math.trunc(info.mtimeMs)}`);
    expect((await stage.dryRun([NOT_MARKET, '--stale'])).ids).toEqual([]);
  });

  /** What one changed byte of traffic/2026-03.csv makes stale: the month, its rollups, and every answer whose window holds it. */
  const downstreamOfMarch = [
    'customer_month_revenue[2026-03]',
    'traffic_value_counts[2026-03]',
    'customers_revenue_by_period',
    ...nodesOf(WINDOWED_ANSWERS, monthsBetween('2026-03', '2026-10')),
  ];
  let fingerprintsBeforeEdit: Record<string, string> = {};

  it('a changed landing file: its month is stale ("landing file changed"), everything downstream "upstream … is stale"', async () => {
    fingerprintsBeforeEdit = await answerFingerprints(stage.database);
    const path = join(stage.landing, 'traffic/2026-03.csv');
    const text = readFileSync(path, 'latin1');
    expect(text.split(ORIGINAL_ROW)).toHaveLength(2);
    writeFileSync(path, text.replace(ORIGINAL_ROW, EDITED_ROW), 'latin1');

    const cells = await stage.status([NOT_MARKET]);
    expect(notMaterialized(cells)).toEqual(
      Object.fromEntries(['traffic[2026-03]', ...downstreamOfMarch].map((id) => [id, 'stale'])),
    );
    expect(cellOf(cells, 'traffic[2026-03]').reason).toBe('landing file changed (traffic/2026-03.csv)');
    expect(cellOf(cells, 'customer_month_revenue[2026-03]').reason).toBe(
      'upstream traffic[2026-03] is stale',
    );
    expect(cellOf(cells, 'traffic_value_counts[2026-03]').reason).toBe('upstream traffic[2026-03] is stale');
    expect(cellOf(cells, 'customers_revenue_by_period').reason).toBe(
      'upstream customer_month_revenue[2026-03] is stale',
    );
    for (const month of monthsBetween('2026-03', '2026-10')) {
      expect(cellOf(cells, `top_customers[${month}]`).reason).toBe(
        'upstream customer_month_revenue[2026-03] is stale',
      );
      expect(cellOf(cells, `industry_exposure_extended[${month}]`).reason).toBe(
        `upstream industry_exposure[${month}] is stale`,
      );
    }
    for (const id of downstreamOfMarch)
      expect(cellOf(cells, id).reason, id).toMatch(/^upstream \S+ is stale/);
    // Still the version that was loaded: the table holds the old bytes' rows.
    expect(cellOf(cells, 'traffic[2026-03]').dataVersion).not.toBe(sha256(path));

    const check = await stage.cli(['status', NOT_MARKET, '--check']);
    expect(check.code).toBe(1);
    const grid = await stage.cli(['status', NOT_MARKET]);
    expect(grid.code).toBe(0);
    expect(grid.stdout).toContain('  traffic[2026-03]  stale: landing file changed (traffic/2026-03.csv)\n');
  });

  it('pipeline assets shows the state counts and the latest month of each asset', async () => {
    const result = await stage.cli(['assets', NOT_MARKET, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as {
      key: string;
      partitions: Record<string, number>;
      latestPartition: string | null;
    }[];
    const byKey = new Map(rows.map((row) => [row.key, row]));
    expect(byKey.get('traffic')).toMatchObject({
      partitions: { materialized: 13, stale: 1 },
      latestPartition: '2026-10',
    });
    expect(byKey.get('top_customers')).toMatchObject({
      partitions: { materialized: 6, stale: 8 },
      latestPartition: '2026-10',
    });
    expect(byKey.get('segment_distribution')).toMatchObject({
      partitions: { materialized: 14 },
      latestPartition: '2026-10',
    });
    expect(byKey.get('customers_revenue_by_period')).toMatchObject({
      partitions: { stale: 1 },
      latestPartition: null,
    });
    const table = await stage.cli(['assets', 'traffic']);
    expect(table.code).toBe(0);
    const [header, row] = table.stdout.trimEnd().split('\n');
    expect(header?.split(/ {2,}/)).toEqual([
      'KEY',
      'GROUP',
      'PARTITIONED',
      'DEPS',
      'STATE',
      'LATEST MONTH',
      'LAST MATERIALIZED',
    ]);
    expect(row?.split(/ {2,}/).slice(0, 6)).toEqual([
      'traffic',
      'ingest',
      'monthly',
      'channels,customers',
      '13 materialized, 1 stale',
      '2026-10',
    ]);
  });

  it('materialize traffic --partition 2026-03 --stale recomputes only that month; its readers are then stale: "upstream traffic[2026-03] changed"', async () => {
    const { result, nodes } = await stage.materialize(['traffic', '--partition', '2026-03', '--stale']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(Object.fromEntries(nodes)).toEqual({ 'traffic[2026-03]': 'succeeded' });
    const cells = await stage.status([NOT_MARKET]);
    expect(notMaterialized(cells)).toEqual(Object.fromEntries(downstreamOfMarch.map((id) => [id, 'stale'])));
    expect(cellOf(cells, 'traffic[2026-03]')).toMatchObject({
      state: 'materialized',
      reason: null,
      dataVersion: sha256(join(stage.landing, 'traffic/2026-03.csv')),
    });
    expect(cellOf(cells, 'customer_month_revenue[2026-03]').reason).toBe('upstream traffic[2026-03] changed');
    expect(cellOf(cells, 'traffic_value_counts[2026-03]').reason).toBe('upstream traffic[2026-03] changed');
    expect(cellOf(cells, 'top_customers[2026-10]').reason).toBe(
      'upstream customer_month_revenue[2026-03] is stale',
    );
  });

  it("'* -group:market' --stale --dry-run lists exactly the stale nodes, and the run recomputes exactly those", async () => {
    const runs = await stage.runCount();
    const plan = await stage.dryRun([NOT_MARKET, '--stale']);
    expect(sorted(plan.ids)).toEqual(sorted(downstreamOfMarch));
    expect(plan.why.get('customer_month_revenue[2026-03]')).toBe('stale: upstream traffic[2026-03] changed');
    expect(plan.why.get('top_customers[2026-10]')).toBe(
      'stale: upstream customer_month_revenue[2026-03] is stale',
    );
    expect(await stage.runCount()).toBe(runs);

    const { result, nodes } = await stage.materialize([NOT_MARKET, '--stale']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(sorted(nodes.keys())).toEqual(sorted(downstreamOfMarch));
    expect(new Set(nodes.values())).toEqual(new Set(['succeeded']));
    const cells = await stage.status([NOT_MARKET]);
    expect(notMaterialized(cells)).toEqual({});
    expect((await stage.cli(['status', NOT_MARKET, '--check'])).code).toBe(0);

    // The edit reached the answers: customer 1's 12-month revenue as of 2026-10 is the fixture's + 0.09.
    const [category] = await stage.database.sql<{ revenue: string }[]>`
      select revenue_eur::text as revenue from customer_revenue_categories
      where period = '2026-10-01' and customer_id = 1`;
    expect(category?.revenue).toBe('28283.15');
    const [serving] = await stage.database.sql<{ ytd: string }[]>`
      select revenue_ytd::text as ytd from customers_revenue_by_period where customer_id = 1`;
    expect(serving?.ytd).toBe('23398.93');
  });

  it('what --stale left behind equals a full recomputation over the edited landing files', async () => {
    const afterStale = await answerFingerprints(stage.database);
    const changed = Object.keys(afterStale).filter(
      (table) => afterStale[table] !== fingerprintsBeforeEdit[table],
    );
    // segment_* read snapshots only; every table that reads revenue changed.
    // (consistently_active_top_customers keeps the top 10 %, of which customer 1 is not.)
    expect(changed.sort()).toEqual([
      'customer_month_revenue',
      'customer_revenue_categories',
      'customers_revenue_by_period',
      'descriptive_statistics',
      'industry_exposure',
      'industry_exposure_extended',
      'top_customers',
      'traffic_value_counts',
    ]);
    const { result } = await stage.materialize([NOT_MARKET, '--from', '2025-09', '--to', '2026-10']);
    expect(result.code).toBe(0);
    expect(await answerFingerprints(stage.database)).toEqual(afterStale);
  });

  it('a failed attempt on a month that was good: the cell is failed (the error as reason), the old rows stay', async () => {
    const count = async () => {
      const [row] = await stage.database.sql<{ n: number; revenue: string }[]>`
        select count(*)::int as n, sum(revenue_eur)::text as revenue from traffic
        where send_date between '2026-05-01' and '2026-05-31'`;
      return row;
    };
    const before = await count();
    expect(before?.n).toBe(1049);
    const path = join(stage.landing, 'traffic/2026-05.csv');
    const text = readFileSync(path, 'latin1');
    const row = '2026-05-01,500007,1,7,1074,41.07\r\n';
    expect(text.split(row)).toHaveLength(2);
    writeFileSync(path, text.replace(row, '2026-05-01,500007,1,7,1074,-41.07\r\n'), 'latin1');

    const { result, nodes } = await stage.materialize(['traffic', '--partition', '2026-05']);
    expect(result.code).toBe(1);
    expect(Object.fromEntries(nodes)).toEqual({ 'traffic[2026-05]': 'failed' });
    expect(await count()).toEqual(before);

    const cells = await stage.status([NOT_MARKET]);
    expect(notMaterialized(cells)).toEqual({ 'traffic[2026-05]': 'failed' });
    const failed = cellOf(cells, 'traffic[2026-05]');
    expect(failed.reason).toContain('traffic/2026-05.csv:2: revenue_eur: negative revenue: -41.07');
    expect(failed.reason).toContain('nothing was loaded');
    expect((await stage.cli(['status', NOT_MARKET, '--check'])).code).toBe(1);

    // A run that reads the failed month without materializing it is refused.
    const runs = await stage.runCount();
    const refused = await stage.cli([
      'materialize',
      'customer_month_revenue',
      '--partition',
      '2026-05',
      '--in-process',
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr.split('\n')[0]).toBe(`${REFUSED}traffic[2026-05]`);
    expect(await stage.runCount()).toBe(runs);
  });
});

// ── 7: absent months (before the data) vs missing ones (a hole in it) ──────────────────────────

describe('absent months before the data, a missing month inside it', () => {
  const stage = useStage({ prepare: (landing) => unlinkSync(join(landing, 'traffic/2026-01.csv')) });

  it("months before the data's span do not block a run whose window reaches them", async () => {
    const { result, nodes } = await stage.materialize([
      '+top_customers',
      '--partition',
      '2025-09',
      '--upstream',
      'missing',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(sorted(nodes.keys())).toEqual(
      sorted([
        'channels',
        'customers',
        ...nodesOf(['customer_snapshots'], MONTHS),
        'traffic[2025-09]',
        'customer_month_revenue[2025-09]',
        'top_customers[2025-09]',
      ]),
    );
    expect(new Set(nodes.values())).toEqual(new Set(['succeeded']));
  });

  it('status shows those months absent, not missing', async () => {
    const before = monthsBetween('2024-10', '2025-08');
    const cells = await stage.status([
      'traffic customer_month_revenue top_customers',
      '--from',
      '2024-10',
      '--to',
      '2025-09',
    ]);
    const keys = ['traffic', 'customer_month_revenue', 'top_customers'];
    expect(sorted(cells.keys())).toEqual(sorted(nodesOf(keys, [...before, '2025-09'])));
    for (const id of nodesOf(keys, before))
      expect(cellOf(cells, id), id).toMatchObject({ state: 'absent', reason: null });
    for (const id of nodesOf(keys, ['2025-09'])) expect(cellOf(cells, id).state, id).toBe('materialized');
    // Without a range, status covers the data's span only.
    const span = await stage.status(['traffic']);
    expect([...span.keys()]).toEqual(nodesOf(['traffic'], MONTHS));
  });

  it('a selected month outside the span is left out with a note', async () => {
    const plan = await stage.dryRun(['traffic', '--from', '2025-07', '--to', '2025-09']);
    expect(plan.notes).toEqual([
      "  note: left out 2025-07…2025-08: outside the data's span (2025-09…2026-10)",
    ]);
    expect(plan.ids).toEqual(['traffic[2025-09]']);
  });

  it('a month without a landing file inside the span is missing ("no landing file")', async () => {
    for (const range of [
      ['--from', '2025-10', '--to', '2025-12'],
      ['--from', '2026-02', '--to', '2026-10'],
    ]) {
      const { result } = await stage.materialize(['traffic customer_month_revenue', ...range]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
    }
    const cells = await stage.status(['traffic customer_month_revenue']);
    expect(notMaterialized(cells)).toEqual({
      'traffic[2026-01]': 'missing',
      'customer_month_revenue[2026-01]': 'missing',
    });
    expect(cellOf(cells, 'traffic[2026-01]').reason).toBe('no landing file');
    expect(cellOf(cells, 'customer_month_revenue[2026-01]').reason).toBeNull();
  });

  it('a run whose window holds the hole is refused, naming traffic[2026-01]; one whose window does not runs', async () => {
    const runs = await stage.runCount();
    const refused = await stage.cli([
      'materialize',
      'top_customers',
      '--partition',
      '2026-05',
      '--in-process',
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    // A gap with no landing file: no --upstream can fill it, so the hint says what can.
    expect(refused.stderr.split('\n')).toEqual([
      `${REFUSED}with no landing file: traffic[2026-01]`,
      '  deliver the missing landing files, or choose partitions whose inputs do not reach them',
      '',
    ]);
    expect(await stage.runCount()).toBe(runs);

    // 2025-12's window is 2025-01…2025-12: absent before September, loaded since.
    const { result, nodes } = await stage.materialize(['top_customers', '--partition', '2025-12']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(Object.fromEntries(nodes)).toEqual({ 'top_customers[2025-12]': 'succeeded' });
  });
});

// ── 8, 11: a new month arrives ───────────────────────────────────────────────────────────────────

describe('a new month: the 2026-10 files arrive after everything up to 2026-09 was loaded', () => {
  let held = '';
  const NEW_FILES = ['customers/2026-10.csv', 'traffic/2026-10.csv'];
  const stage = useStage({
    prepare: (landing) => {
      held = join(landing, '..', `${landing.split('/').at(-1)}-held`);
      mkdirSync(held);
      for (const file of NEW_FILES) renameSync(join(landing, file), join(held, file.replace('/', '-')));
    },
  });
  afterAll(() => {
    if (held) rmSync(held, { recursive: true, force: true });
  });

  it('loads 2025-09…2026-09: everything current', async () => {
    const { result } = await stage.materialize([NOT_MARKET, '--from', '2025-09', '--to', '2026-09']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(notMaterialized(await stage.status([NOT_MARKET]))).toEqual({});
    expect((await stage.cli(['status', NOT_MARKET, '--check'])).code).toBe(0);
  });

  it('with the new files, the 2026-10 cells are missing and nothing of the past is stale', async () => {
    for (const file of NEW_FILES) {
      writeFileSync(join(stage.landing, file), readFileSync(join(held, file.replace('/', '-'))));
    }
    const cells = await stage.status([NOT_MARKET]);
    expect(sorted(cells.keys())).toEqual(sorted(ALL_CELLS));
    // customers and customers_revenue_by_period read every partition there is: a partition not
    // loaded yet does not make them stale (loading it does, below); traffic's dependency on
    // customers is validation-only, so no past traffic month will ever be stale for it.
    expect(notMaterialized(cells)).toEqual(
      Object.fromEntries(nodesOf(PARTITIONED, ['2026-10']).map((id) => [id, 'missing'])),
    );
    expect(cellOf(cells, 'traffic[2026-10]').reason).toBeNull();
    expect((await stage.cli(['status', NOT_MARKET, '--check'])).code).toBe(1);
  });

  it('pipeline assets counts the missing month and names 2026-09 the latest', async () => {
    const result = await stage.cli(['assets', 'traffic customers top_customers']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const rows = result.stdout
      .trimEnd()
      .split('\n')
      .map((line) => line.split(/ {2,}/).slice(0, 6));
    expect(rows).toEqual([
      ['KEY', 'GROUP', 'PARTITIONED', 'DEPS', 'STATE', 'LATEST MONTH'],
      ['customers', 'ingest', 'no', 'customer_snapshots', '1 materialized', '—'],
      ['traffic', 'ingest', 'monthly', 'channels,customers', '13 materialized, 1 missing', '2026-09'],
      [
        'top_customers',
        'business',
        'monthly',
        'customer_month_revenue[12m],customer_snapshots',
        '13 materialized, 1 missing',
        '2026-09',
      ],
    ]);
  });

  it("'* -group:market' --stale --dry-run lists the 2026-10 nodes, customers and customers_revenue_by_period, nothing of the past", async () => {
    const plan = await stage.dryRun([NOT_MARKET, '--stale']);
    // No window of a past month holds 2026-10, and no past partition reads customers except
    // traffic, whose read is validation-only: re-checking a month's keys does not change it.
    expect(sorted(plan.ids)).toEqual(
      sorted([...nodesOf(PARTITIONED, ['2026-10']), 'customers', 'customers_revenue_by_period']),
    );
    expect(plan.why.get('customers')).toBe(
      'downstream of customer_snapshots[2026-10], which this run materializes',
    );
    expect(plan.why.get('traffic[2026-10]')).toBe('missing');
  });

  it('once the new snapshot is loaded, customers is stale and still no traffic month is', async () => {
    const { result } = await stage.materialize(['customer_snapshots', '--partition', '2026-10']);
    expect(result.code).toBe(0);
    const cells = await stage.status([NOT_MARKET]);
    const missing = nodesOf(
      PARTITIONED.filter((key) => key !== 'customer_snapshots'),
      ['2026-10'],
    );
    expect(notMaterialized(cells)).toEqual({
      ...Object.fromEntries(missing.map((id) => [id, 'missing'])),
      customers: 'stale',
      customers_revenue_by_period: 'stale',
    });
    expect(cellOf(cells, 'customers').reason).toMatch(
      /^upstream customer_snapshots\[2026-10\] (changed|was materialized since)$/,
    );
    expect(cellOf(cells, 'customers_revenue_by_period').reason).toBe('upstream customers is stale');
  });

  it('--stale then runs exactly what its dry run lists, and 2026-10 answers every question as the fixture', async () => {
    const plan = await stage.dryRun([NOT_MARKET, '--stale']);
    const { result, nodes } = await stage.materialize([NOT_MARKET, '--stale']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(sorted(nodes.keys())).toEqual(sorted(plan.ids));
    expect(new Set(nodes.values())).toEqual(new Set(['succeeded']));
    expect(notMaterialized(await stage.status([NOT_MARKET]))).toEqual({});
    await expectAnswers(stage.database, '2026-10-01', expectedAnswers('expected-2026-10.json'));
  });
});

// ── 10: code versions, on the toy graph ─────────────────────────────────────────────────────────

describe('a code version bump (toy graph)', () => {
  const stage = useStage({ toy: true });
  const RANGE = ['--from', '2026-01', '--to', '2026-03'];
  const Q1 = monthsBetween('2026-01', '2026-03');
  const TOY_CELLS = ['source', 'summary', ...nodesOf(['daily', 'left', 'right', 'rolling', 'joined'], Q1)];
  const DOWNSTREAM_OF_DAILY = TOY_CELLS.filter((id) => id !== 'source');
  const bumped = { TOY_VERSION_daily: '2' };

  it('after a successful run, every cell is materialized', async () => {
    const { result, nodes } = await stage.materialize(['*', ...RANGE]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(sorted(nodes.keys())).toEqual(sorted(TOY_CELLS));
    const cells = await stage.status(RANGE);
    expect(sorted(cells.keys())).toEqual(sorted(TOY_CELLS));
    expect(notMaterialized(cells)).toEqual({});
  });

  it('bumping daily\'s version makes it stale ("code version changed (1 → 2)") and everything downstream ("upstream … is stale")', async () => {
    const cells = await stage.status(RANGE, bumped);
    expect(notMaterialized(cells)).toEqual(
      Object.fromEntries(DOWNSTREAM_OF_DAILY.map((id) => [id, 'stale'])),
    );
    for (const month of Q1) {
      expect(cellOf(cells, `daily[${month}]`).reason).toBe('code version changed (1 → 2)');
      expect(cellOf(cells, `left[${month}]`).reason).toBe(`upstream daily[${month}] is stale`);
      expect(cellOf(cells, `right[${month}]`).reason).toBe(`upstream daily[${month}] is stale`);
      expect(cellOf(cells, `joined[${month}]`).reason).toBe(
        `upstream left[${month}] is stale; upstream right[${month}] is stale`,
      );
    }
    // rolling reads a 3-month window of daily (the months before 2026-01 are outside the range).
    expect(cellOf(cells, 'rolling[2026-01]').reason).toBe('upstream daily[2026-01] is stale');
    expect(cellOf(cells, 'rolling[2026-03]').reason).toBe(
      'upstream daily[2026-01] is stale; upstream daily[2026-02] is stale; upstream daily[2026-03] is stale',
    );
    expect(cellOf(cells, 'summary').reason?.split('; ').sort()).toEqual(
      Q1.map((month) => `upstream joined[${month}] is stale`),
    );
    // The version is read from the definition: without the bump, nothing changed.
    expect(notMaterialized(await stage.status(RANGE))).toEqual({});
  });

  it('--stale re-runs exactly those, after which the bumped graph is current', async () => {
    const plan = await stage.dryRun(['*', '--stale', ...RANGE], bumped);
    expect(sorted(plan.ids)).toEqual(sorted(DOWNSTREAM_OF_DAILY));
    expect(plan.why.get('daily[2026-02]')).toBe('stale: code version changed (1 → 2)');
    const { result, runId, nodes } = await stage.materialize(['*', '--stale', ...RANGE], bumped);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(sorted(nodes.keys())).toEqual(sorted(DOWNSTREAM_OF_DAILY));
    const started = await stage.database.sql<{ id: string }[]>`
      select distinct asset || case when partition = '' then '' else '[' || partition || ']' end as id
      from toy_events where run_id = ${runId} and event = 'start'`;
    expect(sorted(started.map((row) => row.id))).toEqual(sorted(DOWNSTREAM_OF_DAILY));
    expect(notMaterialized(await stage.status(RANGE, bumped))).toEqual({});
    // Back to version 1 is a change too.
    const reverted = await stage.status(RANGE);
    expect(cellOf(reverted, 'daily[2026-01]')).toMatchObject({
      state: 'stale',
      reason: 'code version changed (2 → 1)',
    });
  });

  it("an unpartitioned asset's state does not depend on the months shown: summary is stale without a range too", async () => {
    const bumpedAgain = { TOY_VERSION_daily: '3' };
    expect(cellOf(await stage.status(RANGE, bumpedAgain), 'summary').state).toBe('stale');
    // The toy graph has no landing files, so no span: without a range no month is shown, but
    // summary reads joined's partitions all the same.
    const cells = await stage.status(['summary'], bumpedAgain);
    expect(cellOf(cells, 'summary').state).toBe('stale');
  });
});
