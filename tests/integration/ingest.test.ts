import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineConfig } from '../../assets/config.ts';
import { assets } from '../../assets/index.ts';
import { landingFileSource, monthlyLandingSource } from '../../assets/ingest/landing-source.ts';
import { AssetGraph } from '../../engine/graph.ts';
import { partitionKeys } from '../../engine/plan.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { copyLanding, FIXTURE_LANDING, tableChecksums } from '../support/landing-copy.ts';
import { runInProcess } from '../support/run-plan.ts';

/**
 * The ingest assets against the small fixture landing zone (docs/contract.md §1–§3, §9): the good
 * files load exactly, every kind of bad input is rejected with `file:line: column: reason` and
 * leaves every table as it was, and the input variations docs/contract.md §1 allows load fine.
 */

const INGEST = ['channels', 'customer_snapshots', 'customers', 'traffic'];
const MONTH = '2026-10';
const TRAFFIC_FILE = `traffic/${MONTH}.csv`;
const CUSTOMERS_FILE = `customers/${MONTH}.csv`;
const CHANNELS_FILE = 'channels.csv';

type IngestAsset = 'channels' | 'customer_snapshots' | 'traffic';
const FILE_OF: Record<IngestAsset, string> = {
  channels: CHANNELS_FILE,
  customer_snapshots: CUSTOMERS_FILE,
  traffic: TRAFFIC_FILE,
};

const graph = new AssetGraph<PipelineConfig>(assets);
let database: TestDatabase;
let initial: Awaited<ReturnType<typeof materialize>>;
const copies: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  initial = await materialize(INGEST, { from: '2025-09', to: MONTH });
});
afterAll(async () => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
  await database?.drop();
});

async function materialize(
  selection: string[],
  options: {
    from?: string;
    to?: string;
    landingDir?: string;
    allowBadRows?: number;
    maxRecordBytes?: number;
  } = {},
) {
  const {
    runId,
    result,
    detail: recorded,
  } = await runInProcess({
    database,
    graph,
    selection,
    partitions: options.from ? { from: options.from, to: options.to ?? options.from } : undefined,
    config: {
      landingDir: options.landingDir ?? FIXTURE_LANDING,
      exportDir: '/tmp',
      allowBadRows: options.allowBadRows ?? 0,
      maxRecordBytes: options.maxRecordBytes,
    },
  });
  const detail = recorded;
  if (!detail) throw new Error(`run ${runId} was not recorded`);
  const node = (key: string, partition = '') => {
    const found = detail.nodes.find((n) => n.assetKey === key && n.partitionKey === partition);
    if (!found) throw new Error(`no node ${key}[${partition}] in run ${runId}`);
    return { ...found, metadata: (found.metadata ?? {}) as Record<string, unknown> };
  };
  const checks = (key: string, partition = '') =>
    detail.checks.filter((c) => c.assetKey === key && c.partitionKey === partition);
  return { runId, result, detail, node, checks };
}

/** Loads one asset (for MONTH when partitioned) from a landing zone. */
function load(asset: IngestAsset, landingDir: string, allowBadRows = 0, maxRecordBytes?: number) {
  return materialize([asset], {
    from: asset === 'channels' ? undefined : MONTH,
    landingDir,
    allowBadRows,
    maxRecordBytes,
  });
}

/** Puts the database back to the fixture's state for MONTH after a test that loaded other files. */
async function restoreFixture() {
  const run = await materialize(INGEST, { from: MONTH });
  expect(run.result.status).toBe('succeeded');
}

/** A fresh writable copy of the fixture landing zone, removed after the file's tests. */
function landingCopy(): string {
  const dir = copyLanding();
  copies.push(dir);
  return dir;
}

type Lines = string[];

/**
 * Rewrites one file of a landing zone line by line (lines[0] is the header, lines[n-1] is line n),
 * keeping its line ends. latin1 maps bytes to characters one to one, for writing invalid UTF-8.
 */
function editFile(
  dir: string,
  file: string,
  change: (lines: Lines) => void,
  encoding: BufferEncoding = 'utf8',
) {
  const path = join(dir, file);
  const text = readFileSync(path, encoding);
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text.split(eol);
  const trailing = lines.at(-1) === '';
  if (trailing) lines.pop();
  change(lines);
  writeFileSync(path, lines.length === 0 ? '' : lines.join(eol) + (trailing ? eol : ''), encoding);
}

/** Replaces every line (the header is index 0). */
function mapLines(lines: Lines, map: (line: string, index: number) => string) {
  for (const [index, line] of lines.entries()) lines[index] = map(line, index);
}

function at(lines: Lines, line: number): string {
  const text = lines[line - 1];
  if (text === undefined) throw new Error(`no line ${line}`);
  return text;
}

/** Sets one field of a line of an unquoted fixture file, by column name. */
function setField(lines: Lines, line: number, column: string, value: string) {
  const index = at(lines, 1).split(',').indexOf(column);
  if (index < 0) throw new Error(`no column ${column}`);
  const fields = at(lines, line).split(',');
  fields[index] = value;
  lines[line - 1] = fields.join(',');
}

function field(lines: Lines, line: number, column: string): string {
  const index = at(lines, 1).split(',').indexOf(column);
  return at(lines, line).split(',')[index] ?? '';
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

type Expected = [line: number, column: string, reason: string];

/** The error names `file:line: column: …reason…` on a line of its own (line and column exact). */
function expectProblems(error: string, file: string, problems: Expected[]) {
  const lines = error.split('\n').map((line) => line.trim());
  for (const [line, column, reason] of problems) {
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(`^${escapeRegExp(`${file}:${line}: ${column}: `)}.*${escapeRegExp(reason)}`),
      ),
    );
  }
}

function summary(file: string, total: number): string {
  return `${file}: ${total} problem${total === 1 ? '' : 's'}, nothing was loaded:`;
}

/** Count, revenue and the content (without the surrogate traffic_id) of one month of traffic. */
async function trafficMonth(month: string) {
  const first = `${month}-01`;
  const [row] = await database.sql<{ rows: number; revenue: string; md5: string }[]>`
    select count(*)::int as rows, coalesce(sum(revenue_eur), 0)::text as revenue,
      md5(coalesce(string_agg(concat_ws(',', send_date, account_id, customer_id, channel_id, interactions_count,
        revenue_eur), '|' order by send_date, account_id, customer_id, channel_id), '')) as md5
    from traffic where send_date >= ${first}::date and send_date < ${first}::date + interval '1 month'`;
  if (!row) throw new Error('no row');
  return row;
}

async function snapshotMonth(month: string) {
  const [row] = await database.sql<{ rows: number; md5: string }[]>`
    select count(*)::int as rows, md5(coalesce(string_agg(t::text, '|' order by customer_id), '')) as md5
    from customer_snapshots t where snapshot_month = ${`${month}-01`}`;
  if (!row) throw new Error('no row');
  return row;
}

const FIXTURE_MONTHS = partitionKeys('2025-09', '2026-10');

describe('loading the fixture landing zone', () => {
  it('materializes group:ingest for 2025-09..2026-10 with every row of the files', async () => {
    expect(initial.result).toEqual({
      status: 'succeeded',
      succeeded: 30,
      failed: 0,
      canceled: 0,
      pending: 0,
    });
    expect(initial.detail.run.status).toBe('succeeded');
    const [counts] = await database.sql<
      { traffic: number; revenue: string; customers: number; snapshots: number; channels: number }[]
    >`select (select count(*)::int from traffic) as traffic,
        (select sum(revenue_eur)::text from traffic) as revenue,
        (select count(*)::int from customers) as customers,
        (select count(*)::int from customer_snapshots) as snapshots,
        (select count(*)::int from channels) as channels`;
    expect(counts).toEqual({
      traffic: 12638,
      revenue: '1213878.40',
      customers: 30,
      snapshots: 376,
      channels: 8,
    });
  });

  it('holds sample rows exactly as written in the files', async () => {
    // traffic/2026-10.csv line 2: 2026-10-01,500007,1,1,522,28.61
    const traffic = await database.sql`
      select send_date, account_id, customer_id, channel_id, interactions_count, revenue_eur from traffic
      where send_date = '2026-10-01' and account_id = 500007 and customer_id = 1 and channel_id = 1`;
    expect(traffic).toEqual([
      {
        send_date: '2026-10-01',
        account_id: 500007,
        customer_id: 1,
        channel_id: 1,
        interactions_count: 522,
        revenue_eur: '28.61',
      },
    ]);
    // customers/2026-10.csv line 3: 2,500014,Customer 2,SMB,Healthcare,Brazil,2026-10-01
    const customer = await database.sql`select * from customers where customer_id = 2`;
    expect(customer).toEqual([
      {
        customer_id: 2,
        account_id: 500014,
        customer_name: 'Customer 2',
        segment: 'SMB',
        industry: 'Healthcare',
        country: 'Brazil',
        created_date: '2026-10-01',
      },
    ]);
    // customers/2025-09.csv line 4: 3,500021,Customer 3,Mid-Market,Retail,Brazil,2020-01-15 (SMB by 2026-10)
    const snapshot = await database.sql`
      select customer_id, account_id, customer_name, segment, industry, country, created_date
      from customer_snapshots where snapshot_month = '2025-09-01' and customer_id = 3`;
    expect(snapshot).toEqual([
      {
        customer_id: 3,
        account_id: 500021,
        customer_name: 'Customer 3',
        segment: 'Mid-Market',
        industry: 'Retail',
        country: 'Brazil',
        created_date: '2020-01-15',
      },
    ]);
    // channels.csv line 9: 8,Facebook Messenger,Messenger,0.0700
    const channel = await database.sql`select * from channels where channel_id = 8`;
    expect(channel).toEqual([
      {
        channel_id: 8,
        channel_name: 'Facebook Messenger',
        channel_type: 'Messenger',
        unit_price_eur: '0.0700',
      },
    ]);
  });

  it("records traffic[2026-10]'s file metadata", () => {
    const node = initial.node('traffic', MONTH);
    expect(node.status).toBe('succeeded');
    expect(node.metadata).toMatchObject({
      rowCount: 956,
      rowsInFile: 956,
      rowsLoaded: 956,
      duplicatesCollapsed: 0,
      rowsRejected: 0,
      bytes: statSync(join(FIXTURE_LANDING, TRAFFIC_FILE)).size,
      // A clean file takes the fast path: COPY into a fresh month table, attached as a partition.
      path: 'copy',
      outcome: 'added',
      fileRows: 956,
      fileRevenueEur: '71779.95', // the file's revenue column, added up by hand (awk) when written
    });
  });

  it('keeps traffic as one partition per month, every constraint enforced on each', async () => {
    const partitions = await database.sql<{ name: string; bound: string }[]>`
      select c.relname as name, pg_get_expr(c.relpartbound, c.oid) as bound
      from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'traffic'::regclass order by c.relname`;
    expect(partitions.map((p) => p.name)).toEqual([
      ...FIXTURE_MONTHS.map((month) => `traffic_${month.replace('-', '_')}`),
    ]);
    expect(partitions.find((p) => p.name === 'traffic_2026_10')?.bound).toBe(
      "FOR VALUES FROM ('2026-10-01') TO ('2026-11-01')",
    );
    const indexes = await database.sql<{ name: string }[]>`
      select indexrelid::regclass::text as name from pg_index where indrelid = 'traffic_2026_10'::regclass
      order by 1`;
    expect(indexes.map((i) => i.name)).toEqual([
      'traffic_2026_10_idx_traffic_account_id',
      'traffic_2026_10_traffic_pkey',
      'traffic_2026_10_uk_traffic_unique',
    ]);
    const insert = (customer: number, revenue: string) => database.sql`
      insert into traffic (send_date, account_id, customer_id, channel_id, interactions_count, revenue_eur)
      values ('2026-10-01', 500007, ${customer}, 1, 1, ${revenue})`;
    await expect(insert(1, '1.00')).rejects.toMatchObject({ code: '23505' }); // uk_traffic_unique
    await expect(insert(999, '1.00')).rejects.toMatchObject({ constraint_name: 'fk_traffic_customer' });
    await expect(insert(1, '-1.00')).rejects.toMatchObject({
      constraint_name: 'ck_traffic_revenue_nonnegative',
    });
  });

  it('records passed reconciles_with_file, revenue and non-empty checks for every month', async () => {
    for (const month of FIXTURE_MONTHS) {
      const checks = initial.checks('traffic', month);
      expect(checks.map((c) => [c.checkName, c.severity, c.passed])).toEqual([
        ['reconciles_with_file', 'error', true],
        ['revenue_matches_unit_price', 'warn', true],
        ['non_empty_month', 'warn', true],
      ]);
      expect(initial.checks('customer_snapshots', month).map((c) => [c.checkName, c.passed])).toEqual([
        ['non_empty_month', true],
      ]);
    }
    const reconciled = initial.checks('traffic', MONTH).find((c) => c.checkName === 'reconciles_with_file');
    const month = await trafficMonth(MONTH);
    expect(reconciled?.metadata).toEqual({ rows: 956, revenueEur: Number(month.revenue) });
  });
});

describe('re-running a partition is idempotent', () => {
  afterEach(restoreFixture);

  it('re-running traffic[2026-10] with the same file leaves every table as it was', async () => {
    const before = await tableChecksums(database.sql);
    const contentBefore = await trafficMonth(MONTH);
    const run = await load('traffic', FIXTURE_LANDING);
    expect(run.node('traffic', MONTH)).toMatchObject({
      status: 'succeeded',
      metadata: { outcome: 'unchanged' },
    });
    expect(await trafficMonth(MONTH)).toEqual(contentBefore); // same business rows…
    expect(await tableChecksums(database.sql)).toEqual(before); // …and every column, traffic_id included
  });

  it('re-running channels, customer_snapshots[2026-10] and customers leaves every table as it was', async () => {
    const before = await tableChecksums(database.sql);
    const run = await materialize(['channels', 'customer_snapshots', 'customers'], { from: MONTH });
    expect(run.result.status).toBe('succeeded');
    expect(await tableChecksums(database.sql)).toEqual(before);
  });

  it('a corrected file replaces only its month', async () => {
    const before = new Map<string, Awaited<ReturnType<typeof trafficMonth>>>();
    for (const month of FIXTURE_MONTHS) before.set(month, await trafficMonth(month));
    const dir = landingCopy();
    editFile(dir, TRAFFIC_FILE, (lines) => setField(lines, 2, 'revenue_eur', '30.00')); // was 28.61
    const run = await load('traffic', dir);
    expect(run.node('traffic', MONTH)).toMatchObject({
      status: 'succeeded',
      metadata: { outcome: 'replaced' },
    });
    for (const month of FIXTURE_MONTHS.filter((m) => m !== MONTH)) {
      expect(await trafficMonth(month), month).toEqual(before.get(month));
    }
    const october = await trafficMonth(MONTH);
    expect(october.rows).toBe(956);
    expect(Number(october.revenue)).toBeCloseTo(Number(before.get(MONTH)?.revenue) + 1.39, 2);
    const [row] = await database.sql`
      select revenue_eur from traffic
      where send_date = '2026-10-01' and account_id = 500007 and customer_id = 1 and channel_id = 1`;
    expect(row?.revenue_eur).toBe('30.00');
  });
});

type RuleCase = {
  rule: string;
  asset: IngestAsset;
  change: (lines: Lines) => void;
  encoding?: BufferEncoding;
  /** [line, column, reason substring] that must each appear as a line of the error. */
  problems: Expected[];
  /** The total in the summary line; omitted for header-only messages. */
  total?: number;
};

const same = (lines: Lines, line: number) => at(lines, line);

const RULES: RuleCase[] = [
  {
    rule: 'an empty file',
    asset: 'traffic',
    change: (lines) => lines.splice(0),
    problems: [[1, 'header', 'empty file']],
  },
  {
    rule: 'an empty customers file',
    asset: 'customer_snapshots',
    change: (lines) => lines.splice(0),
    problems: [[1, 'header', 'empty file']],
  },
  {
    rule: 'a missing column',
    asset: 'traffic',
    change: (lines) => mapLines(lines, (line) => line.split(',').slice(0, 5).join(',')),
    problems: [[1, 'revenue_eur', 'missing column']],
    total: 1,
  },
  {
    rule: 'an unknown column',
    asset: 'traffic',
    change: (lines) => mapLines(lines, (line, i) => `${line},${i === 0 ? 'discount' : '0'}`),
    problems: [[1, 'discount', 'unknown column']],
    total: 1,
  },
  {
    rule: 'a row with too few fields',
    asset: 'traffic',
    change: (lines) => (lines[4] = same(lines, 5).split(',').slice(0, 5).join(',')),
    problems: [[5, 'row', 'expected 6 fields, found 5']],
    total: 1,
  },
  {
    rule: 'a row with too many fields',
    asset: 'traffic',
    change: (lines) => (lines[4] = `${same(lines, 5)},1`),
    problems: [[5, 'row', 'expected 6 fields, found 7']],
    total: 1,
  },
  {
    rule: 'an unclosed quote',
    asset: 'traffic',
    change: (lines) => setField(lines, 5, 'revenue_eur', '"457.07'),
    problems: [[5, 'row', 'unclosed quote']],
    total: 1,
  },
  {
    rule: 'invalid UTF-8 (0xff 0xfe in a name)',
    asset: 'customer_snapshots',
    change: (lines) => setField(lines, 4, 'customer_name', 'Cust\xff\xfeomer 3'),
    encoding: 'latin1',
    problems: [[4, 'row', 'invalid UTF-8']],
    total: 1,
  },
  {
    rule: 'a bare carriage return inside an unquoted field',
    asset: 'traffic',
    change: (lines) => setField(lines, 6, 'interactions_count', '12\r3'),
    problems: [[6, 'row', 'a carriage return inside an unquoted field']],
    total: 1,
  },
  {
    rule: 'a name longer than its column (varchar 255)',
    asset: 'customer_snapshots',
    change: (lines) => setField(lines, 4, 'customer_name', 'N'.repeat(256)),
    problems: [[4, 'customer_name', 'longer than 255 characters']],
    total: 1,
  },
  {
    rule: 'a date in year 0000',
    asset: 'customer_snapshots',
    change: (lines) => setField(lines, 4, 'created_date', '0000-01-15'),
    problems: [[4, 'created_date', 'not a valid date: 0000-01-15']],
    total: 1,
  },
  {
    rule: 'channels: a channel_name that another channel holds in the table',
    asset: 'channels',
    change: (lines) => {
      lines.splice(2, 1); // drop Email (line 3), then call SMS "Email"
      setField(lines, 2, 'channel_name', 'Email');
    },
    problems: [[2, 'channel_name', 'channel_name Email belongs to channel_id 2']],
    total: 1,
  },
  {
    rule: 'a NUL byte',
    asset: 'customer_snapshots',
    change: (lines) => setField(lines, 4, 'customer_name', 'Cust\0omer 3'),
    problems: [[4, 'row', 'NUL byte']],
    total: 1,
  },
  {
    rule: 'an unparsable date (send_date)',
    asset: 'traffic',
    change: (lines) => setField(lines, 6, 'send_date', '01/10/2026'),
    problems: [[6, 'send_date', 'not a date (YYYY-MM-DD): 01/10/2026']],
    total: 1,
  },
  {
    rule: 'an unparsable date (created_date)',
    asset: 'customer_snapshots',
    change: (lines) => setField(lines, 4, 'created_date', 'yesterday'),
    problems: [[4, 'created_date', 'not a date (YYYY-MM-DD): yesterday']],
    total: 1,
  },
  {
    rule: 'an out-of-range date (2026-02-30)',
    asset: 'traffic',
    change: (lines) => setField(lines, 6, 'send_date', '2026-02-30'),
    problems: [[6, 'send_date', 'not a valid date: 2026-02-30']],
    total: 1,
  },
  {
    rule: 'an out-of-range date (month 13)',
    asset: 'traffic',
    change: (lines) => setField(lines, 6, 'send_date', '2026-13-01'),
    problems: [[6, 'send_date', 'not a valid date: 2026-13-01']],
    total: 1,
  },
  {
    rule: 'an out-of-range created_date (month 13)',
    asset: 'customer_snapshots',
    change: (lines) => setField(lines, 4, 'created_date', '2020-13-15'),
    problems: [[4, 'created_date', 'not a valid date: 2020-13-15']],
    total: 1,
  },
  {
    rule: 'an unparsable count',
    asset: 'traffic',
    change: (lines) => setField(lines, 7, 'interactions_count', '12a'),
    problems: [[7, 'interactions_count', 'not a whole number: 12a']],
    total: 1,
  },
  {
    rule: 'an unparsable revenue',
    asset: 'traffic',
    change: (lines) => setField(lines, 7, 'revenue_eur', 'abc'),
    problems: [[7, 'revenue_eur', 'not a number: abc']],
    total: 1,
  },
  {
    rule: 'an unparsable customer_id',
    asset: 'customer_snapshots',
    change: (lines) => setField(lines, 4, 'customer_id', '3.5'),
    problems: [[4, 'customer_id', 'not a whole number: 3.5']],
    total: 1,
  },
  {
    rule: 'an out-of-range count (99999999999)',
    asset: 'traffic',
    change: (lines) => setField(lines, 7, 'interactions_count', '99999999999'),
    problems: [[7, 'interactions_count', 'out of range: 99999999999']],
    total: 1,
  },
  {
    rule: 'an out-of-range count (2147483648)',
    asset: 'traffic',
    change: (lines) => setField(lines, 7, 'interactions_count', '2147483648'),
    problems: [[7, 'interactions_count', 'out of range: 2147483648']],
    total: 1,
  },
  {
    rule: 'an out-of-range revenue',
    asset: 'traffic',
    change: (lines) => setField(lines, 7, 'revenue_eur', '12345678901.00'),
    problems: [[7, 'revenue_eur', 'out of range: 12345678901.00']],
    total: 1,
  },
  {
    rule: 'a negative count',
    asset: 'traffic',
    change: (lines) => setField(lines, 7, 'interactions_count', '-5'),
    problems: [[7, 'interactions_count', 'negative count: -5']],
    total: 1,
  },
  {
    rule: 'a negative revenue',
    asset: 'traffic',
    change: (lines) => setField(lines, 7, 'revenue_eur', '-1.00'),
    problems: [[7, 'revenue_eur', 'negative revenue: -1.00']],
    total: 1,
  },
  {
    rule: 'revenue with 3 decimals',
    asset: 'traffic',
    change: (lines) => setField(lines, 7, 'revenue_eur', '12.345'),
    problems: [[7, 'revenue_eur', 'more than 2 decimals: 12.345']],
    total: 1,
  },
  {
    rule: "a send_date outside the file's month",
    asset: 'traffic',
    change: (lines) => setField(lines, 6, 'send_date', '2026-09-30'),
    problems: [[6, 'send_date', "outside the file's month 2026-10: 2026-09-30"]],
    total: 1,
  },
  {
    rule: 'an unknown customer_id',
    asset: 'traffic',
    change: (lines) => setField(lines, 8, 'customer_id', '999'),
    problems: [[8, 'customer_id', 'unknown customer_id 999']],
    total: 1,
  },
  {
    rule: 'an unknown channel_id',
    asset: 'traffic',
    change: (lines) => setField(lines, 8, 'channel_id', '99'),
    problems: [[8, 'channel_id', 'unknown channel_id 99']],
    total: 1,
  },
  {
    rule: "an account_id that is not the customer's",
    asset: 'traffic',
    change: (lines) => setField(lines, 2, 'account_id', '500014'), // customer 2's account, on customer 1
    problems: [[2, 'account_id', 'account_id 500014 is not the account of customer 1 (500007)']],
    total: 1,
  },
  {
    rule: 'two rows with the same key and different values',
    asset: 'traffic',
    change: (lines) => {
      lines.splice(2, 0, same(lines, 2)); // line 3 repeats line 2's key…
      setField(lines, 3, 'revenue_eur', '30.00'); // …with another revenue
    },
    problems: [
      [2, 'row', 'same send_date, account_id, customer_id and channel_id with different values as line 3'],
      [3, 'row', 'same send_date, account_id, customer_id and channel_id with different values as line 2'],
    ],
    total: 2,
  },
  {
    rule: 'customers: a duplicate customer_id',
    asset: 'customer_snapshots',
    change: (lines) => setField(lines, 4, 'customer_id', '2'),
    problems: [
      [3, 'customer_id', 'duplicate customer_id, also on line 4'],
      [4, 'customer_id', 'duplicate customer_id, also on line 3'],
    ],
    total: 2,
  },
  {
    rule: 'customers: a duplicate account_id',
    asset: 'customer_snapshots',
    change: (lines) => setField(lines, 4, 'account_id', '500014'),
    problems: [
      [3, 'account_id', 'duplicate account_id, also on line 4'],
      [4, 'account_id', 'duplicate account_id, also on line 3'],
    ],
    total: 2,
  },
  {
    rule: 'customers: a customer whose account_id changed since earlier snapshots',
    asset: 'customer_snapshots',
    change: (lines) => setField(lines, 4, 'account_id', '599999'),
    problems: [[4, 'account_id', 'customer 3 had account_id 500021 in the 2025-09 snapshot']],
    total: 1,
  },
  {
    rule: 'customers: an account_id that moved to another customer',
    asset: 'customer_snapshots',
    change: (lines) => setField(lines, 4, 'customer_id', '99'),
    problems: [[4, 'account_id', 'account_id 500021 belongs to customer 3 in the 2025-09 snapshot']],
    total: 1,
  },
  {
    rule: 'customers: an empty customer_name',
    asset: 'customer_snapshots',
    change: (lines) => setField(lines, 4, 'customer_name', ''),
    problems: [[4, 'customer_name', 'empty']],
    total: 1,
  },
  {
    rule: 'customers: a blank ("  ") customer_name',
    asset: 'customer_snapshots',
    change: (lines) => setField(lines, 4, 'customer_name', '"  "'),
    problems: [[4, 'customer_name', 'empty']],
    total: 1,
  },
  {
    rule: 'channels: a duplicate channel_id',
    asset: 'channels',
    change: (lines) => setField(lines, 3, 'channel_id', '1'),
    problems: [
      [2, 'channel_id', 'duplicate channel_id, also on line 3'],
      [3, 'channel_id', 'duplicate channel_id, also on line 2'],
    ],
    total: 2,
  },
  {
    rule: 'channels: a duplicate channel_name',
    asset: 'channels',
    change: (lines) => setField(lines, 3, 'channel_name', 'SMS'),
    problems: [
      [2, 'channel_name', 'duplicate channel_name, also on line 3'],
      [3, 'channel_name', 'duplicate channel_name, also on line 2'],
    ],
    total: 2,
  },
  {
    rule: 'channels: a negative unit_price_eur',
    asset: 'channels',
    change: (lines) => setField(lines, 4, 'unit_price_eur', '-0.0200'),
    problems: [[4, 'unit_price_eur', 'negative price: -0.0200']],
    total: 1,
  },
  {
    rule: 'channels: an unparsable unit_price_eur',
    asset: 'channels',
    change: (lines) => setField(lines, 4, 'unit_price_eur', 'free'),
    problems: [[4, 'unit_price_eur', 'not a number: free']],
    total: 1,
  },
  {
    rule: 'a bad value after a quoted line break (physical line numbers)',
    asset: 'customer_snapshots',
    change: (lines) => {
      setField(lines, 4, 'customer_name', '"Customer\n3"'); // the record spans lines 4–5
      setField(lines, 6, 'segment', ''); // customer 5, now on physical line 7
    },
    problems: [[7, 'segment', 'empty']],
    total: 1,
  },
  {
    rule: 'a bad row after a quoted line break (physical line numbers)',
    asset: 'customer_snapshots',
    change: (lines) => {
      setField(lines, 4, 'customer_name', '"Customer\n3"');
      lines[5] = `${same(lines, 6)},extra`;
    },
    problems: [[7, 'row', 'expected 7 fields, found 8']],
    total: 1,
  },
];

describe('bad input is rejected with file:line: column: reason and nothing changes', () => {
  it.each([
    ['traffic', TRAFFIC_FILE],
    ['customer_snapshots', CUSTOMERS_FILE],
    ['channels', CHANNELS_FILE],
  ] as const)('a missing file (%s) names the expected path', async (asset, file) => {
    const dir = landingCopy();
    rmSync(join(dir, file));
    const before = await tableChecksums(database.sql);
    const run = await load(asset, dir);
    const node = run.node(asset, asset === 'channels' ? '' : MONTH);
    expect(node.status).toBe('failed');
    expect(node.attempts).toBe(1); // bad input is never retried
    expect(node.error).toContain(file);
    expect(node.error).toContain(join(dir, file));
    expect(await tableChecksums(database.sql)).toEqual(before);
  });

  it.each(RULES)('$rule', async ({ asset, change, encoding, problems, total }) => {
    const dir = landingCopy();
    const file = FILE_OF[asset];
    editFile(dir, file, change, encoding);
    const before = await tableChecksums(database.sql);
    const run = await load(asset, dir);
    const node = run.node(asset, asset === 'channels' ? '' : MONTH);
    expect(node.status).toBe('failed');
    expect(node.attempts).toBe(1);
    const error = node.error ?? '';
    if (total !== undefined) expect(error.split('\n')[0]).toBe(summary(file, total));
    expectProblems(error, file, problems);
    expect(await tableChecksums(database.sql)).toEqual(before);
  });

  it.each([
    {
      kind: 'value problems',
      change: (lines: Lines) => {
        for (let line = 2; line <= 26; line++) setField(lines, line, 'revenue_eur', '-1.00');
      },
      total: 25,
      first: 'revenue_eur: negative revenue: -1.00',
    },
    {
      kind: 'structural problems',
      change: (lines: Lines) => {
        for (let line = 2; line <= 24; line++) lines[line - 1] = `${at(lines, line)},x`;
      },
      total: 23,
      first: 'row: expected 6 fields, found 7',
    },
  ])('more than 20 $kind: the first 20 lines and the total', async ({ change, total, first }) => {
    const dir = landingCopy();
    editFile(dir, TRAFFIC_FILE, change);
    const before = await tableChecksums(database.sql);
    const run = await load('traffic', dir);
    const node = run.node('traffic', MONTH);
    expect(node.status).toBe('failed');
    const lines = (node.error ?? '').split('\n');
    expect(lines[0]).toBe(summary(TRAFFIC_FILE, total));
    expect(lines.slice(1, 21)).toEqual(
      Array.from({ length: 20 }, (_, i) => `  ${TRAFFIC_FILE}:${i + 2}: ${first}`),
    );
    expect(lines.slice(21)).toEqual([`  … and ${total - 20} more`]);
    expect(await tableChecksums(database.sql)).toEqual(before);
  });
});

describe('a record longer than PIPELINE_MAX_RECORD_BYTES is rejected in the stream', () => {
  const tooLong = (file: string, line: number, limit: number) =>
    `${summary(file, 1)}\n  ${file}:${line}: row: record longer than ${limit} bytes (PIPELINE_MAX_RECORD_BYTES)`;

  it.each([
    ['a header, then 5 MB without a line break (default limit, 1 MiB)', undefined],
    ['the same with a limit of 4 KiB', 4096],
  ])('traffic: %s', async (_what, limit) => {
    const dir = landingCopy();
    const path = join(dir, TRAFFIC_FILE);
    const header = readFileSync(path, 'utf8').split('\r\n')[0];
    writeFileSync(path, Buffer.concat([Buffer.from(`${header}\r\n`), Buffer.alloc(5 * 1024 * 1024, 'x')]));
    const before = await tableChecksums(database.sql);
    const node = (await load('traffic', dir, 0, limit)).node('traffic', MONTH);
    expect(node).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: tooLong(TRAFFIC_FILE, 2, limit ?? 1_048_576),
    });
    expect(await tableChecksums(database.sql)).toEqual(before);
  });

  it('the longest record of a file passes at exactly the limit and fails one byte below (CRLF not counted)', async () => {
    const dir = landingCopy();
    const lines = readFileSync(join(dir, TRAFFIC_FILE), 'utf8').split('\r\n').slice(1);
    const longest = Math.max(...lines.map((line) => Buffer.byteLength(line)));
    const line = lines.findIndex((text) => Buffer.byteLength(text) === longest) + 2;
    const before = await tableChecksums(database.sql);
    const below = (await load('traffic', dir, 0, longest - 1)).node('traffic', MONTH);
    expect(below).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: tooLong(TRAFFIC_FILE, line, longest - 1),
    });
    expect(await tableChecksums(database.sql)).toEqual(before);
    expect((await load('traffic', dir, 0, longest)).node('traffic', MONTH).status).toBe('succeeded');
  });

  it('a quoted record spanning lines counts as one, named by the line it starts on (validated path)', async () => {
    const dir = landingCopy();
    editFile(dir, CUSTOMERS_FILE, (lines) =>
      setField(lines, 4, 'customer_name', `"${'Name\n'.repeat(300)}"`),
    );
    const before = await tableChecksums(database.sql);
    const node = (await load('customer_snapshots', dir, 0, 1000)).node('customer_snapshots', MONTH);
    expect(node).toMatchObject({ status: 'failed', attempts: 1, error: tooLong(CUSTOMERS_FILE, 4, 1000) });
    expect(await tableChecksums(database.sql)).toEqual(before);
  });
});

describe('landing files that are links, and huge header names', () => {
  const OUTSIDE_CONTENT = 'root:x:0:0:root:/root:/bin/bash\n';
  /** A file outside the landing zone, with content no error may show. */
  function outsideFile(): string {
    const dir = landingCopy();
    const path = join(dir, 'secret.txt');
    writeFileSync(path, OUTSIDE_CONTENT);
    return path;
  }

  it.each([
    ['channels', CHANNELS_FILE],
    ['customer_snapshots', CUSTOMERS_FILE],
    ['traffic', TRAFFIC_FILE],
  ] as const)(
    '%s: a link to a file outside the landing zone is refused before it is opened',
    async (asset, file) => {
      const dir = landingCopy();
      rmSync(join(dir, file));
      symlinkSync(outsideFile(), join(dir, file));
      const before = await tableChecksums(database.sql);
      const node = (await load(asset, dir)).node(asset, asset === 'channels' ? '' : MONTH);
      expect(node).toMatchObject({
        status: 'failed',
        attempts: 1,
        error: `${file} is a link outside the landing zone`,
      });
      expect(`${node.error} ${node.errorCause}`).not.toContain('root:x');
      expect(await tableChecksums(database.sql)).toEqual(before);
    },
  );

  it('a link to /etc/passwd, and a folder that is a link outside, are refused the same way', async () => {
    const dir = landingCopy();
    rmSync(join(dir, CHANNELS_FILE));
    symlinkSync('/etc/passwd', join(dir, CHANNELS_FILE));
    const channels = (await load('channels', dir)).node('channels');
    expect(channels.error).toBe('channels.csv is a link outside the landing zone');
    const elsewhere = landingCopy();
    rmSync(join(dir, 'traffic'), { recursive: true });
    symlinkSync(join(elsewhere, 'traffic'), join(dir, 'traffic'));
    const traffic = (await load('traffic', dir)).node('traffic', MONTH);
    expect(traffic).toMatchObject({
      status: 'failed',
      error: `${TRAFFIC_FILE} is a link outside the landing zone`,
    });
  });

  it('a link within the landing zone loads like the file it points to', async () => {
    const dir = landingCopy();
    mkdirSync(join(dir, 'delivered'));
    renameSync(join(dir, CHANNELS_FILE), join(dir, 'delivered', 'channels-v2.csv'));
    symlinkSync('delivered/channels-v2.csv', join(dir, CHANNELS_FILE));
    const before = await tableChecksums(database.sql);
    expect((await load('channels', dir)).node('channels').status).toBe('succeeded');
    expect((await tableChecksums(database.sql)).channels).toBe(before.channels);
  });

  it('the state look (observe, sha256) sees a link outside without reading its target', async () => {
    const dir = landingCopy();
    const target = outsideFile();
    for (const file of [CHANNELS_FILE, TRAFFIC_FILE]) {
      rmSync(join(dir, file));
      symlinkSync(target, join(dir, file));
    }
    const config = { landingDir: dir, exportDir: '/tmp', allowBadRows: 0 };
    const targetSha = createHash('sha256').update(OUTSIDE_CONTENT).digest('hex');
    const channels = landingFileSource(CHANNELS_FILE);
    const observed = (await channels.observe(config)).get('');
    expect(observed).toMatchObject({ name: CHANNELS_FILE, fingerprint: expect.stringMatching(/^outside:/) });
    expect(await channels.sha256(config, '')).not.toBe(targetSha);
    const traffic = monthlyLandingSource('traffic');
    expect((await traffic.observe(config)).get(MONTH)?.fingerprint).toMatch(/^outside:/);
    expect(await traffic.sha256(config, MONTH)).not.toBe(targetSha);
    // A file within the zone is hashed as before.
    expect(await traffic.sha256(config, '2026-09')).toBe(
      createHash('sha256')
        .update(readFileSync(join(dir, 'traffic/2026-09.csv')))
        .digest('hex'),
    );
  });

  it('an unknown header name is quoted to 64 characters: a huge header line is not echoed', async () => {
    const dir = landingCopy();
    const huge = `discount${'x'.repeat(20_000)}`;
    editFile(dir, TRAFFIC_FILE, (lines) => mapLines(lines, (line, i) => `${line},${i === 0 ? huge : '0'}`));
    const node = (await load('traffic', dir)).node('traffic', MONTH);
    expect(node).toMatchObject({ status: 'failed', attempts: 1 });
    expectProblems(node.error ?? '', TRAFFIC_FILE, [[1, `${huge.slice(0, 64)}…`, 'unknown column']]);
    expect((node.error ?? '').length).toBeLessThan(300);
  });
});

describe('every input variation the landing zone allows loads', () => {
  afterEach(restoreFixture);

  it.each([
    ['traffic', TRAFFIC_FILE],
    ['customer_snapshots', CUSTOMERS_FILE],
    ['channels', CHANNELS_FILE],
  ] as const)('a BOM at the start of %s', async (asset, file) => {
    const dir = landingCopy();
    const path = join(dir, file);
    writeFileSync(path, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(path)]));
    const before = await tableChecksums(database.sql);
    const octoberBefore = await trafficMonth(MONTH);
    const run = await load(asset, dir);
    expect(run.node(asset, asset === 'channels' ? '' : MONTH).status).toBe('succeeded');
    const after = await tableChecksums(database.sql);
    expect(after.channels).toBe(before.channels);
    expect(after.customer_snapshots).toBe(before.customer_snapshots);
    expect(await trafficMonth(MONTH)).toEqual(octoberBefore);
  });

  it('CRLF line ends (customers) and LF line ends (traffic, which the fixture writes with CRLF)', async () => {
    const dir = landingCopy();
    const customers = join(dir, CUSTOMERS_FILE);
    writeFileSync(customers, readFileSync(customers, 'utf8').replaceAll('\n', '\r\n'));
    const traffic = join(dir, TRAFFIC_FILE);
    writeFileSync(traffic, readFileSync(traffic, 'utf8').replaceAll('\r\n', '\n'));
    const snapshotBefore = await snapshotMonth(MONTH);
    const trafficBefore = await trafficMonth(MONTH);
    const run = await materialize(['customer_snapshots', 'traffic'], { from: MONTH, landingDir: dir });
    expect(run.result.status).toBe('succeeded');
    expect(await snapshotMonth(MONTH)).toEqual(snapshotBefore);
    expect(await trafficMonth(MONTH)).toEqual(trafficBefore);
  });

  it('quoted names with a comma, doubled quotes and a line break, and non-ASCII names round-trip', async () => {
    const names: Record<number, string> = {
      1: 'Société Générale Ærø',
      2: 'Müller & Söhne GmbH, Zweigstelle Łódź',
      3: 'Acme, "Global"\nHoldings',
      4: '株式会社テスト 🐟 Zoë',
    };
    const dir = landingCopy();
    editFile(dir, CUSTOMERS_FILE, (lines) => {
      for (const [id, name] of Object.entries(names)) {
        const quoted = /[",\n]/.test(name) ? `"${name.replaceAll('"', '""')}"` : name;
        setField(lines, Number(id) + 1, 'customer_name', quoted);
      }
      setField(lines, 6, 'customer_name', '"Customer 5"'); // a quoted field without anything special
    });
    const run = await materialize(['customer_snapshots', 'customers'], { from: MONTH, landingDir: dir });
    expect(run.result.status).toBe('succeeded');
    expect(run.node('customer_snapshots', MONTH).metadata).toMatchObject({ rowsInFile: 30, rowsLoaded: 30 });
    const rows = await database.sql<{ customer_id: number; customer_name: string }[]>`
      select customer_id, customer_name from customer_snapshots
      where snapshot_month = '2026-10-01' and customer_id <= 5 order by customer_id`;
    expect(rows).toEqual(
      [...Object.entries(names), ['5', 'Customer 5']].map(([id, name]) => ({
        customer_id: Number(id),
        customer_name: name,
      })),
    );
    const [customer] = await database.sql`select customer_name, segment from customers where customer_id = 3`;
    expect(customer).toEqual({ customer_name: 'Acme, "Global"\nHoldings', segment: 'SMB' });
  });

  it('no line break after the last row (RFC 4180 allows it)', async () => {
    const dir = landingCopy();
    const traffic = join(dir, TRAFFIC_FILE);
    writeFileSync(traffic, readFileSync(traffic, 'utf8').replace(/\r\n$/, ''));
    const customers = join(dir, CUSTOMERS_FILE);
    writeFileSync(customers, readFileSync(customers, 'utf8').replace(/\n$/, ''));
    const trafficBefore = await trafficMonth(MONTH);
    const snapshotBefore = await snapshotMonth(MONTH);
    const run = await materialize(['customer_snapshots', 'traffic'], { from: MONTH, landingDir: dir });
    expect(run.result.status).toBe('succeeded');
    expect(run.node('traffic', MONTH).metadata).toMatchObject({ rowsInFile: 956, rowsLoaded: 956 });
    expect(await trafficMonth(MONTH)).toEqual(trafficBefore);
    expect(await snapshotMonth(MONTH)).toEqual(snapshotBefore);
  });

  it('a traffic_id column is ignored', async () => {
    const dir = landingCopy();
    editFile(dir, TRAFFIC_FILE, (lines) =>
      mapLines(lines, (line, i) => `${i === 0 ? 'traffic_id' : 900000 + i},${line}`),
    );
    const before = await trafficMonth(MONTH);
    const run = await load('traffic', dir);
    expect(run.node('traffic', MONTH)).toMatchObject({ status: 'succeeded' });
    expect(await trafficMonth(MONTH)).toEqual(before);
    expect(run.node('traffic', MONTH).metadata.path).toBe('validated'); // COPY cannot skip a column
    const [ids] = await database.sql`select count(*)::int as n from traffic where traffic_id >= 900000`;
    expect(ids?.n).toBe(0);
  });

  it('columns in a different order (traffic and customers)', async () => {
    const dir = landingCopy();
    const reverse = (lines: Lines) => mapLines(lines, (line) => line.split(',').reverse().join(','));
    editFile(dir, TRAFFIC_FILE, reverse);
    editFile(dir, CUSTOMERS_FILE, reverse);
    expect(readFileSync(join(dir, TRAFFIC_FILE), 'utf8')).toMatch(/^revenue_eur,interactions_count,/);
    const trafficBefore = await trafficMonth(MONTH);
    const snapshotBefore = await snapshotMonth(MONTH);
    const run = await materialize(['customer_snapshots', 'traffic'], { from: MONTH, landingDir: dir });
    expect(run.result.status).toBe('succeeded');
    expect(await trafficMonth(MONTH)).toEqual(trafficBefore);
    expect(await snapshotMonth(MONTH)).toEqual(snapshotBefore);
  });

  it('a header-only traffic file loads zero rows and records the non_empty_month warning', async () => {
    const dir = landingCopy();
    editFile(dir, TRAFFIC_FILE, (lines) => lines.splice(1));
    const september = await trafficMonth('2026-09');
    const run = await load('traffic', dir);
    const node = run.node('traffic', MONTH);
    expect(node.status).toBe('succeeded');
    expect(node.metadata).toMatchObject({ rowCount: 0, rowsInFile: 0, rowsLoaded: 0 });
    expect((await trafficMonth(MONTH)).rows).toBe(0);
    expect(await trafficMonth('2026-09')).toEqual(september);
    expect(run.checks('traffic', MONTH).map((c) => [c.checkName, c.severity, c.passed])).toEqual([
      ['reconciles_with_file', 'error', true],
      ['revenue_matches_unit_price', 'warn', true],
      ['non_empty_month', 'warn', false],
    ]);
    const warning = run.checks('traffic', MONTH).find((c) => c.checkName === 'non_empty_month');
    expect(warning?.message).toContain('2026-10');
  });

  it('exact duplicate rows load once and are counted in the metadata', async () => {
    const dir = landingCopy();
    editFile(dir, TRAFFIC_FILE, (lines) => lines.splice(2, 0, same(lines, 2), same(lines, 2))); // line 2 ×3
    const before = await trafficMonth(MONTH);
    const run = await load('traffic', dir);
    const node = run.node('traffic', MONTH);
    expect(node.status).toBe('succeeded');
    expect(node.metadata).toMatchObject({
      rowCount: 956,
      rowsInFile: 958,
      rowsLoaded: 956,
      duplicatesCollapsed: 2,
      rowsRejected: 0,
      path: 'validated', // the fast path's unique index meets the duplicate and hands over
    });
    expect(await trafficMonth(MONTH)).toEqual(before);
    expect(run.checks('traffic', MONTH).find((c) => c.checkName === 'reconciles_with_file')?.passed).toBe(
      true,
    );
  });
});

describe('allowBadRows (--allow-bad-rows N)', () => {
  afterEach(restoreFixture);

  it('quarantines more rows than one INSERT can carry parameters for', async () => {
    const dir = landingCopy();
    editFile(dir, TRAFFIC_FILE, (lines) => {
      const good = at(lines, 2);
      for (let i = 0; i < 12_000; i++) lines.push(good.replace(/,[0-9]+,([0-9.]+)$/, ',-1,$1'));
    });
    const run = await load('traffic', dir, 20_000);
    expect(run.node('traffic', MONTH).status).toBe('succeeded');
    const [quarantined] = await database.sql<{ n: number }[]>`
      select count(*)::int as n from rejected_rows where run_id = ${run.runId}`;
    expect(quarantined?.n).toBe(12_000);
  });

  /** Line 5 gets a negative revenue, line 9 an unknown channel. */
  function twoBadRows(): { dir: string; raw: [string, string] } {
    const dir = landingCopy();
    let raw: [string, string] = ['', ''];
    editFile(dir, TRAFFIC_FILE, (lines) => {
      expect(field(lines, 5, 'revenue_eur')).toBe('457.07');
      setField(lines, 5, 'revenue_eur', '-1.00');
      setField(lines, 9, 'channel_id', '99');
      raw = [at(lines, 5), at(lines, 9)];
    });
    return { dir, raw };
  }

  it('above the limit the load fails and nothing changes', async () => {
    const { dir } = twoBadRows();
    const before = await tableChecksums(database.sql);
    const run = await load('traffic', dir, 1);
    const node = run.node('traffic', MONTH);
    expect(node.status).toBe('failed');
    expect(node.error?.split('\n')[0]).toBe(summary(TRAFFIC_FILE, 2));
    expectProblems(node.error ?? '', TRAFFIC_FILE, [
      [5, 'revenue_eur', 'negative revenue: -1.00'],
      [9, 'channel_id', 'unknown channel_id 99'],
    ]);
    expect(await tableChecksums(database.sql)).toEqual(before);
  });

  it('within the limit the good rows load and the bad ones go to rejected_rows', async () => {
    const { dir, raw } = twoBadRows();
    const run = await load('traffic', dir, 2);
    const node = run.node('traffic', MONTH);
    expect(node.status).toBe('succeeded');
    expect(node.metadata).toMatchObject({
      rowCount: 954,
      rowsInFile: 956,
      rowsLoaded: 954,
      duplicatesCollapsed: 0,
      rowsRejected: 2,
    });
    expect((await trafficMonth(MONTH)).rows).toBe(954);
    const rejected = await database.sql`
      select asset, partition, file, line, reason, raw from rejected_rows where run_id = ${run.runId} order by line`;
    expect(rejected).toEqual([
      {
        asset: 'traffic',
        partition: MONTH,
        file: TRAFFIC_FILE,
        line: 5,
        reason: expect.stringContaining('revenue_eur: negative revenue: -1.00'),
        raw: raw[0],
      },
      {
        asset: 'traffic',
        partition: MONTH,
        file: TRAFFIC_FILE,
        line: 9,
        reason: expect.stringContaining('channel_id: unknown channel_id 99'),
        raw: raw[1],
      },
    ]);
    const [bad] = await database.sql`
      select count(*)::int as n from traffic where revenue_eur < 0 or channel_id = 99`;
    expect(bad?.n).toBe(0);
    expect(run.checks('traffic', MONTH).find((c) => c.checkName === 'reconciles_with_file')?.passed).toBe(
      true,
    );
  });
});
