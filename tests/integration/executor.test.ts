import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type AssetCheck,
  type AssetContext,
  type AssetDependency,
  defineAsset,
  type RetryPolicy,
} from '../../engine/asset.ts';
import { InputError } from '../../engine/errors.ts';
import { AssetGraph } from '../../engine/graph.ts';
import { RunHistory } from '../../engine/run-history.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { runInProcess } from '../support/run-plan.ts';

let database: TestDatabase;
let history: RunHistory;

beforeAll(async () => {
  database = await createTestDatabase();
  history = new RunHistory(database);
  await database.sql`create table slices (asset text, partition text, value int, primary key (asset, partition))`;
  await database.sql`create table events (id bigserial primary key, node text, event text, at timestamptz default clock_timestamp())`;
});
afterAll(() => database.drop());
beforeEach(async () => {
  await database.sql`truncate slices, events`;
});

type Behaviour = (ctx: AssetContext) => Promise<void> | void;

/** An asset that logs start/end events and writes `value` into its slice; `behave` may throw or wait. */
type TestSpec = {
  group?: string;
  deps?: AssetDependency[];
  partitions?: 'monthly';
  retry?: Partial<RetryPolicy>;
  checks?: AssetCheck[];
};

function asset(key: string, spec: TestSpec = {}, behave: Behaviour = () => {}) {
  return defineAsset({
    key,
    group: spec.group ?? 'test',
    description: key,
    retry: { attempts: 1, backoffMs: 1 },
    ...spec,
    materialize: async (ctx: AssetContext) => {
      const node = ctx.partition ? `${key}[${ctx.partition}]` : key;
      await database.sql`insert into events (node, event) values (${node}, 'start')`;
      await behave(ctx);
      await ctx.sql`insert into slices values (${key}, ${ctx.partition ?? ''}, 1)
        on conflict (asset, partition) do update set value = slices.value + 1`;
      await database.sql`insert into events (node, event) values (${node}, 'end')`;
      return { rowCount: 1, period: ctx.period ?? 'none' };
    },
  });
}

async function run(
  definitions: ReturnType<typeof asset>[],
  selection: string[],
  partitions?: { from: string; to: string },
  concurrency = 4,
) {
  return runInProcess({
    database,
    graph: new AssetGraph(definitions),
    selection,
    partitions,
    config: {},
    concurrency,
  });
}

async function eventTimes() {
  const rows = await database.sql<
    { node: string; event: string; at: Date }[]
  >`select node, event, at from events order by id`;
  const times = new Map<string, { start: number; end: number }>();
  for (const row of rows) {
    const entry = times.get(row.node) ?? { start: Number.NaN, end: Number.NaN };
    entry[row.event as 'start' | 'end'] = new Date(row.at).getTime();
    times.set(row.node, entry);
  }
  return times;
}

const diamond = (behave: Record<string, Behaviour> = {}, partitioned = true) => [
  asset('a', { partitions: partitioned ? 'monthly' : undefined }, behave.a),
  asset('b', { deps: ['a'], partitions: partitioned ? 'monthly' : undefined }, behave.b),
  asset('c', { deps: ['a'], partitions: partitioned ? 'monthly' : undefined }, behave.c),
  asset('d', { deps: ['b', 'c'], partitions: partitioned ? 'monthly' : undefined }, behave.d),
];

describe('in-process execution', () => {
  it('runs a diamond over a range in dependency order, each node once', async () => {
    const { result, detail } = await run(diamond(), ['a', 'b', 'c', 'd'], { from: '2026-08', to: '2026-10' });
    expect(result).toEqual({ status: 'succeeded', succeeded: 12, failed: 0, canceled: 0, pending: 0 });
    const times = await eventTimes();
    expect(times.size).toBe(12);
    for (const month of ['2026-08', '2026-09', '2026-10']) {
      const at = (key: string) => times.get(`${key}[${month}]`) ?? { start: 0, end: 0 };
      expect(at('b').start).toBeGreaterThanOrEqual(at('a').end);
      expect(at('c').start).toBeGreaterThanOrEqual(at('a').end);
      expect(at('d').start).toBeGreaterThanOrEqual(Math.max(at('b').end, at('c').end));
    }
    const slices = await database.sql<{ value: number }[]>`select value from slices`;
    expect(slices).toHaveLength(12);
    expect(slices.every((s) => s.value === 1)).toBe(true);
    expect(detail?.run.status).toBe('succeeded');
    expect(detail?.nodes.map((n) => `${n.assetKey}[${n.partitionKey}]`).slice(0, 3)).toEqual([
      'a[2026-08]',
      'a[2026-09]',
      'a[2026-10]',
    ]);
  });

  it('runs independent nodes concurrently up to the limit', async () => {
    const slow = async () => {
      await sleep(150);
    };
    const definitions = diamond({ b: slow, c: slow }, false);
    await run(definitions, ['a', 'b', 'c', 'd'], undefined, 2);
    let times = await eventTimes();
    const overlap = (x: string, y: string) => {
      const p = times.get(x);
      const q = times.get(y);
      return Boolean(p && q && p.start < q.end && q.start < p.end);
    };
    expect(overlap('b', 'c')).toBe(true);

    await database.sql`truncate events`;
    await run(definitions, ['a', 'b', 'c', 'd'], undefined, 1);
    times = await eventTimes();
    expect(overlap('b', 'c')).toBe(false);
  });

  it('a failure leaves its downstream pending and the run failed; siblings still run', async () => {
    const definitions = [
      ...diamond({
        b: (ctx) => {
          if (ctx.partition === '2026-10') throw new Error('b broke', { cause: new Error('disk on fire') });
        },
      }),
      asset('e', { deps: ['c'], partitions: 'monthly' }),
    ];
    const { result, detail, events } = await run(definitions, ['a', 'b', 'c', 'd', 'e'], {
      from: '2026-09',
      to: '2026-10',
    });
    expect(result).toEqual({ status: 'failed', succeeded: 8, failed: 1, canceled: 0, pending: 1 });
    const node = (id: string) => detail?.nodes.find((n) => `${n.assetKey}[${n.partitionKey}]` === id);
    expect(node('b[2026-10]')).toMatchObject({ status: 'failed', attempts: 1 });
    expect(node('b[2026-10]')?.error).toBe('b broke');
    expect(node('b[2026-10]')?.errorCause).toContain('Error: b broke');
    expect(node('d[2026-10]')).toMatchObject({ status: 'pending', attempts: 0, error: null });
    expect(node('e[2026-10]')?.status).toBe('succeeded');
    expect(node('d[2026-09]')?.status).toBe('succeeded');
    expect(events.filter((e) => e.type === 'failed').map((e) => e.node)).toEqual([
      { assetKey: 'b', partitionKey: '2026-10' },
    ]);
    expect(detail?.run.status).toBe('failed');
    expect(detail?.run.finishedAt).not.toBeNull();
    expect(detail?.run.leaseUntil).toBeNull();
  });

  it('retries transient errors with backoff, but never input errors', async () => {
    let calls = 0;
    const flaky = asset('flaky', { retry: { attempts: 3, backoffMs: 5 } }, () => {
      calls++;
      if (calls < 3) throw new Error(`transient ${calls}`);
    });
    const first = await run([flaky], ['flaky']);
    expect(first.result.status).toBe('succeeded');
    expect(first.detail?.nodes[0]?.attempts).toBe(3);
    expect(
      first.events.filter((e) => e.type === 'retrying').map((e) => (e.type === 'retrying' ? e.delayMs : 0)),
    ).toEqual([5, 10]);

    let inputCalls = 0;
    const strict = asset('strict', { retry: { attempts: 3, backoffMs: 5 } }, () => {
      inputCalls++;
      throw new InputError('traffic/2026-10.csv:7: revenue_eur: negative revenue');
    });
    const second = await run([strict], ['strict']);
    expect(inputCalls).toBe(1);
    expect(second.detail?.nodes[0]).toMatchObject({ status: 'failed', attempts: 1 });
    expect(second.detail?.nodes[0]?.error).toContain('traffic/2026-10.csv:7: revenue_eur: negative revenue');
  });

  it('records runs, nodes, metadata and materializations', async () => {
    const { runId, detail } = await run([asset('solo', { partitions: 'monthly' })], ['solo'], {
      from: '2026-10',
      to: '2026-10',
    });
    expect(detail?.run).toMatchObject({
      id: runId,
      trigger: 'cli',
      executor: 'in-process',
      status: 'succeeded',
    });
    expect(detail?.run.partitionFrom).toBe('2026-10');
    expect(detail?.run.startedAt).not.toBeNull();
    expect(detail?.nodes[0]).toMatchObject({
      assetKey: 'solo',
      partitionKey: '2026-10',
      status: 'succeeded',
      attempts: 1,
      metadata: { rowCount: 1, period: '2026-10-01' },
    });
    expect(detail?.nodes[0]?.durationMs).toBeGreaterThanOrEqual(0);
    const last = await history.lastMaterializations();
    expect(last.get('solo')).toMatchObject({ runId, partitionKey: '2026-10', metadata: { rowCount: 1 } });
    const listed = await history.listRuns(1);
    expect(listed[0]).toMatchObject({ id: runId, nodeCounts: { succeeded: 1 } });
  });
});

describe('failures no retry can fix: SQLSTATE classes 53 and 54', () => {
  /** An asset whose statement fails with a real PostgreSQL error; tried up to 3 times if retryable. */
  const failing = (key: string, statement: string) =>
    asset(key, { retry: { attempts: 3, backoffMs: 1 } }, async (ctx) => {
      await ctx.sql.unsafe(statement);
    });
  const raise = (code: string) =>
    `do $$ begin raise exception 'server says %', '${code}' using errcode = '${code}'; end $$`;

  it.each([
    ['53200 out of memory', raise('53200')],
    ['53100 disk full', raise('53100')],
    // A real program limit, not a raised one: repeat() refuses a result over 1 GB.
    ['54000 program limit exceeded', "select repeat('x', 1100000000)"],
    ['54001 statement too complex', raise('54001')],
  ])('%s fails at the first attempt', async (_what, statement) => {
    const { detail, events } = await run([failing('limited', statement)], ['limited']);
    expect(detail?.nodes[0]).toMatchObject({ status: 'failed', attempts: 1 });
    expect(events.filter((e) => e.type === 'retrying')).toEqual([]);
  });

  it.each([
    ['53300 too many connections (the other clients of the moment)', raise('53300')],
    ['40P01 deadlock', raise('40P01')],
  ])('%s is still retried', async (_what, statement) => {
    const { detail, events } = await run([failing('transient', statement)], ['transient']);
    expect(detail?.nodes[0]).toMatchObject({ status: 'failed', attempts: 3 });
    expect(events.filter((e) => e.type === 'retrying')).toHaveLength(2);
  });
});

describe('secrets the caller names are stored and shown nowhere', () => {
  const SECRET = 'SUPERSECRET-42';
  const leakyFail = asset('leaky_fail', {}, () => {
    throw new Error(`the server refused token ${SECRET}`, { cause: new Error(`key=${SECRET}`) });
  });
  const leakyOk = defineAsset({
    key: 'leaky_ok',
    group: 'test',
    description: 'reports a secret in its metadata and a check message',
    checks: [
      {
        name: 'says_too_much',
        severity: 'warn',
        run: async () => ({ passed: false, message: `sent ${SECRET}`, metadata: { echoed: SECRET } }),
      },
    ],
    materialize: async () => ({ rowCount: 1, request: `/query?apikey=${encodeURIComponent(SECRET)}` }),
  });

  async function everything(secrets: readonly string[] | undefined) {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    const graph = new AssetGraph([leakyFail, leakyOk]);
    const { runId, events } = await runInProcess({
      database,
      graph,
      selection: ['leaky_fail', 'leaky_ok'],
      config: {},
      logger,
      secrets,
    });
    const [row] = await database.sql<{ text: string }[]>`
      select concat_ws(' ', (select json_agg(t)::text from runs t where t.id = ${runId}),
        (select json_agg(t)::text from run_nodes t where t.run_id = ${runId}),
        (select json_agg(t)::text from node_attempts t where t.run_id = ${runId}),
        (select json_agg(t)::text from materializations t where t.run_id = ${runId}),
        (select json_agg(t)::text from check_results t where t.run_id = ${runId})) as text`;
    return `${row?.text} ${JSON.stringify(events)} ${lines.join('')}`;
  }

  it('the node runner replaces them with **** in errors, stacks, metadata, checks, events and logs', async () => {
    const said = await everything([SECRET, 'demo']);
    expect(said).toContain('the server refused token ****');
    expect(said).toContain('sent ****');
    expect(said).toContain('/query?apikey=****');
    expect(said).not.toContain(SECRET);
    // Without them, the same run stores the secret: the look above looked at the right places.
    expect(await everything(undefined)).toContain(SECRET);
  });
});

describe('asset checks (write–audit–publish)', () => {
  const valueCheck = (severity: 'error' | 'warn', limit: number): AssetCheck => ({
    name: `value_below_${limit}`,
    severity,
    run: async (ctx) => {
      const [row] = await ctx.sql<
        { value: number }[]
      >`select value from slices where asset = ${ctx.assetKey}`;
      const value = row?.value ?? 0;
      return { passed: value < limit, message: `value is ${value}`, metadata: { value } };
    },
  });

  it('a failing error check rolls the write back, fails the asset and skips downstream', async () => {
    const guarded = asset('guarded', { checks: [valueCheck('error', 2)] });
    const after = asset('after', { deps: ['guarded'] });
    expect((await run([guarded, after], ['guarded'])).result.status).toBe('succeeded'); // value 1 passes
    const { result, detail } = await run([guarded, after], ['guarded', 'after']); // value would become 2
    expect(result).toMatchObject({ status: 'failed', failed: 1, pending: 1 });
    const [slice] = await database.sql<{ value: number }[]>`select value from slices where asset = 'guarded'`;
    expect(slice?.value).toBe(1); // the previous data stays
    expect(detail?.nodes[0]?.error).toContain(
      'check value_below_2 (value is 2) failed; the write was rolled back',
    );
    expect(detail?.checks).toMatchObject([
      {
        assetKey: 'guarded',
        checkName: 'value_below_2',
        severity: 'error',
        passed: false,
        message: 'value is 2',
      },
    ]);
  });

  it('a failing warn check is recorded and the write commits', async () => {
    const warned = asset('warned', { checks: [valueCheck('warn', 1), valueCheck('error', 5)] });
    const { result, detail } = await run([warned], ['warned']);
    expect(result.status).toBe('succeeded');
    const [slice] = await database.sql<{ value: number }[]>`select value from slices where asset = 'warned'`;
    expect(slice?.value).toBe(1);
    expect(detail?.checks.map((c) => [c.checkName, c.severity, c.passed])).toEqual([
      ['value_below_1', 'warn', false],
      ['value_below_5', 'error', true],
    ]);
  });
});

describe('advisory lock per (asset, partition)', () => {
  it('serializes two runs writing the same slice, so no update is lost', async () => {
    // Read–modify–write with a pause: without the lock both runs read 0 and both write 1.
    const counter = defineAsset({
      key: 'counter',
      group: 'test',
      description: 'counter',
      partitions: 'monthly',
      retry: { attempts: 1, backoffMs: 1 },
      materialize: async (ctx) => {
        const [row] = await ctx.sql<{ value: number }[]>`
          select value from slices where asset = 'counter' and partition = ${ctx.partition ?? ''}`;
        await database.sql`insert into events (node, event) values ('counter', 'start')`;
        await sleep(200);
        await ctx.sql`insert into slices values ('counter', ${ctx.partition ?? ''}, ${(row?.value ?? 0) + 1})
          on conflict (asset, partition) do update set value = excluded.value`;
        await database.sql`insert into events (node, event) values ('counter', 'end')`;
        return { rowCount: 1 };
      },
    });
    const october = { from: '2026-10', to: '2026-10' };
    const [first, second] = await Promise.all([
      run([counter], ['counter'], october),
      run([counter], ['counter'], october),
    ]);
    expect(first.result.status).toBe('succeeded');
    expect(second.result.status).toBe('succeeded');
    const [slice] = await database.sql<{ value: number }[]>`select value from slices where asset = 'counter'`;
    expect(slice?.value).toBe(2);
    const rows = await database.sql<{ event: string }[]>`select event from events order by id`;
    expect(rows.map((r) => r.event)).toEqual(['start', 'end', 'start', 'end']);

    // Different partitions do not wait for each other.
    await database.sql`truncate events`;
    await Promise.all([
      run([counter], ['counter'], { from: '2026-08', to: '2026-08' }),
      run([counter], ['counter'], { from: '2026-09', to: '2026-09' }),
    ]);
    const parallel = await database.sql<{ event: string }[]>`select event from events order by id`;
    expect(parallel.map((r) => r.event)).toEqual(['start', 'start', 'end', 'end']);
  });
});

describe('executor safeguards', () => {
  it('refuses a concurrency the connection pool cannot serve', async () => {
    await expect(run([asset('lonely')], ['lonely'], undefined, 10)).rejects.toThrow(
      'concurrency 10 needs a database pool larger than its 10 connections',
    );
  });
});
