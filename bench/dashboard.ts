/**
 * npm run bench:dashboard — the dashboard's pages with 1 000 runs in the history (issue 8, Must 7:
 * every page answers in < 100 ms). Seeds a fresh database set-based (generate_series): 1 000 runs
 * of the real asset graph, each with its (asset × partition) nodes, materializations and check
 * results — most runs one month, every 50th a 24-month backfill, a few failed — then serves the
 * dashboard in-process and times N sequential requests per page over keep-alive, after a warm-up.
 * Baseline, measured in the same run: an Express route answering a constant page of the same size
 * as `/` (what HTTP, Express and fetch cost without any query or rendering).
 */
import type { Server } from 'node:http';
import express from 'express';
import { assets } from '../assets/index.ts';
import { createDashboard, listen } from '../dashboard/server.ts';
import { openDatabase } from '../engine/database.ts';
import { AssetGraph } from '../engine/graph.ts';
import { planRun } from '../engine/plan.ts';
import { connectRedis } from '../queues/connection.ts';
import { openQueues } from '../queues/queues.ts';
import { freshDatabase, median, saveResult } from './support.ts';

const RUNS = 1_000;
/** Every BACKFILL_EVERY-th run materializes all 24 months at once (≈ 300 nodes). */
const BACKFILL_EVERY = 50;
const MONTHS = 24;
const FIRST_MONTH = '2024-11';
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const WARMUP = 20;
const TARGET_MS = 100;
/** A partition key in the template plan, replaced by each run's month in SQL. */
const TEMPLATE_MONTH = '2000-01';

const graph = new AssetGraph(assets);
const url = await freshDatabase('pipeline_bench_dashboard');
const database = await openDatabase(url, { max: 5 });
const { sql } = database;

// The template: one partition of the whole graph, in plan order (position), with each asset's checks.
const template = planRun(graph, graph.keys, { from: TEMPLATE_MONTH, to: TEMPLATE_MONTH }).nodes;
const checks = graph.keys.flatMap((key) =>
  graph.get(key).checks.map((check) => ({ key, name: check.name, severity: check.severity })),
);

const seedStarted = performance.now();
await sql.begin(async (tx) => {
  // Runs: one every 6 hours up to now; the month cycles through the 24; a few failed.
  await tx`
    insert into runs (trigger, selection, executor, status, partition_from, partition_to, config, error,
      created_at, started_at, finished_at)
    select
      (array['cli', 'schedule', 'dashboard'])[1 + i % 3], '*', 'bullmq',
      case when i % 25 = 7 then 'failed' else 'succeeded' end,
      case when i % ${BACKFILL_EVERY} = 0 then ${FIRST_MONTH}
        else to_char(${`${FIRST_MONTH}-01`}::date + make_interval(months => i % ${MONTHS}), 'YYYY-MM') end,
      to_char(${`${FIRST_MONTH}-01`}::date + make_interval(months => case when i % ${BACKFILL_EVERY} = 0
        then ${MONTHS - 1} else i % ${MONTHS} end), 'YYYY-MM'),
      jsonb_build_object('bench', i), null,
      now() - make_interval(hours => 6 * (${RUNS} - i)),
      now() - make_interval(hours => 6 * (${RUNS} - i)) + interval '2 seconds',
      now() - make_interval(hours => 6 * (${RUNS} - i)) + interval '2 seconds'
        + make_interval(secs => case when i % ${BACKFILL_EVERY} = 0 then 1800 else 90 end)
    from generate_series(1, ${RUNS}) as i`;
  // Nodes: the template's nodes for every month of the run (unpartitioned assets once); in a
  // failed run one node (traffic of its last month) failed and everything after it stayed pending.
  await tx`
    with t as (
      select * from unnest(${template.map((n) => n.assetKey)}::text[], ${template.map((n) => (n.partitionKey === '' ? 'f' : 't'))}::text[]::boolean[],
        ${template.map((n) => n.upstream.join(','))}::text[]) with ordinality as t(asset_key, partitioned, upstream, position)
    ), r as (
      select id, status, started_at, partition_from, partition_to,
        (select count(*) from generate_series((partition_from || '-01')::timestamp,
          (partition_to || '-01')::timestamp, interval '1 month'))::int as months
      from runs
    ), n as (
      select r.id as run_id, r.status as run_status, r.started_at, r.partition_to, t.asset_key,
        case when t.partitioned then to_char((r.partition_from || '-01')::date + make_interval(months => m.k), 'YYYY-MM') else '' end as partition_key,
        t.upstream, (t.position - 1) * r.months + m.k as position
      from r join t on true
      cross join lateral generate_series(0, case when t.partitioned then r.months - 1 else 0 end) as m(k)
    ), failed as (
      select run_id, min(position) as position from n
      where run_status = 'failed' and asset_key = 'traffic' and partition_key = partition_to group by run_id
    )
    insert into run_nodes (run_id, asset_key, partition_key, position, status, upstream, attempts, started_at,
      finished_at, duration_ms, metadata, error)
    select n.run_id, n.asset_key, n.partition_key, n.position,
      case when f.position is null or n.position < f.position then 'succeeded'
        when n.position = f.position then 'failed' else 'pending' end,
      case when n.upstream = '' then '{}'::text[]
        else string_to_array(replace(n.upstream, ${TEMPLATE_MONTH}, n.partition_key), ',') end,
      case when f.position is not null and n.position > f.position then 0
        when n.position = f.position then 3 else 1 end,
      case when f.position is not null and n.position > f.position then null
        else n.started_at + make_interval(secs => n.position * 0.3) end,
      case when f.position is not null and n.position > f.position then null
        else n.started_at + make_interval(secs => n.position * 0.3 + 0.25) end,
      case when f.position is not null and n.position > f.position then null
        else 50 + (hashtext(n.run_id::text || n.asset_key || n.partition_key) & 4095) end,
      case when f.position is null or n.position < f.position then jsonb_build_object(
        'rowCount', 1000 + (hashtext(n.asset_key || n.partition_key) & 524287),
        'table', n.asset_key, 'partition', nullif(n.partition_key, ''),
        'bytes', 65536 + (hashtext(n.partition_key || n.asset_key) & 16777215)) end,
      case when n.position = f.position then
        'traffic[' || n.partition_key || ']: landing/traffic/' || n.partition_key || '.csv:48213: revenue_eur: not a number ("12,5")' end
    from n left join failed f on f.run_id = n.run_id`;
  await tx`
    insert into materializations (run_id, asset_key, partition_key, materialized_at, duration_ms, metadata)
    select run_id, asset_key, partition_key, finished_at, duration_ms, metadata
    from run_nodes where status = 'succeeded'`;
  await tx`
    insert into check_results (run_id, asset_key, partition_key, check_name, severity, passed, message, metadata, created_at)
    select n.run_id, n.asset_key, n.partition_key, c.name, c.severity,
      (hashtext(n.run_id::text || c.name) & 63) <> 0,
      case when (hashtext(n.run_id::text || c.name) & 63) = 0 then c.name || ': 3 rows off by more than 0.01 EUR' end,
      jsonb_build_object('checkedRows', (n.metadata->>'rowCount')::int),
      n.finished_at
    from run_nodes n
    join unnest(${checks.map((c) => c.key)}::text[], ${checks.map((c) => c.name)}::text[], ${checks.map((c) => c.severity)}::text[])
      as c(asset_key, name, severity) on c.asset_key = n.asset_key
    where n.status = 'succeeded'`;
});
await sql`vacuum analyze runs, run_nodes, materializations, check_results`;
const seedSeconds = (performance.now() - seedStarted) / 1000;

const [counts] = await sql<{ runs: number; nodes: number; materializations: number; checks: number }[]>`
  select (select count(*) from runs)::int as runs, (select count(*) from run_nodes)::int as nodes,
    (select count(*) from materializations)::int as materializations, (select count(*) from check_results)::int as checks`;
const [bigRun] = await sql<{ id: string; nodes: number }[]>`
  select run_id as id, count(*)::int as nodes from run_nodes group by run_id order by count(*) desc, run_id limit 1`;
if (!counts || !bigRun) throw new Error('seeding produced no runs');

// The dashboard as `pipeline dashboard` serves it (with Redis, so the materialize form is there).
const redis = await connectRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const queues = openQueues(redis, 'bench-dashboard');
const dashboard = await listen(
  createDashboard({
    graph,
    database,
    config: { landingDir: '', exportDir: '', allowBadRows: 0 },
    queues,
    readOnly: false,
  }),
  0,
  '127.0.0.1',
);
const dashboardUrl = `http://127.0.0.1:${port(dashboard)}`;

// The baseline: the same framework answering a constant page as big as `/`.
const home = await (await fetch(`${dashboardUrl}/`)).text();
const constant = express();
constant.get('/', (_req, res) => {
  res.send(home);
});
const baseline = await listen(constant, 0, '127.0.0.1');
const baselineUrl = `http://127.0.0.1:${port(baseline)}`;

function port(server: Server): number {
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Milliseconds per request (status checked, body read), sequential over one keep-alive connection. */
async function time(target: string, n: number): Promise<{ times: number[]; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    const response = await fetch(target);
    const body = await response.text();
    times.push(performance.now() - started);
    if (response.status !== 200) throw new Error(`${target} answered ${response.status}`);
    bytes = body.length;
  }
  return { times, bytes };
}

function p95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)] ?? 0;
}

const pages = [
  { name: '/', path: '/' },
  { name: '/runs', path: '/runs' },
  { name: `/runs/<${bigRun.nodes}-node run>`, path: `/runs/${bigRun.id}` },
  { name: '/assets/traffic', path: '/assets/traffic' },
  { name: '/assets/top_customers', path: '/assets/top_customers' },
];
const targets = [{ name: 'baseline (constant page)', url: `${baselineUrl}/` }].concat(
  pages.map((page) => ({ name: page.name, url: `${dashboardUrl}${page.path}` })),
);
for (const target of targets) await time(target.url, WARMUP);
// Interleaved rounds, so the noise of a shared machine falls on every page alike.
const results = new Map(targets.map((target) => [target.name, { times: [] as number[], bytes: 0 }]));
const ROUNDS = 5;
for (let round = 0; round < ROUNDS; round++) {
  for (const target of targets) {
    const measured = await time(target.url, Math.ceil(REQUESTS / ROUNDS));
    const result = results.get(target.name);
    if (result) {
      result.times.push(...measured.times);
      result.bytes = measured.bytes;
    }
  }
}

dashboard.closeAllConnections();
dashboard.close();
baseline.closeAllConnections();
baseline.close();
await queues.close();
redis.disconnect();
await database.close();

const baselineMedian = median(results.get(targets[0]?.name ?? '')?.times ?? []);
const ms = (value: number) => `${value.toFixed(1).padStart(6)} ms`;
console.log(
  `dashboard: ${counts.runs.toLocaleString('en-US')} runs, ${counts.nodes.toLocaleString('en-US')} run nodes, ` +
    `${counts.materializations.toLocaleString('en-US')} materializations, ${counts.checks.toLocaleString('en-US')} check results ` +
    `(seeded in ${seedSeconds.toFixed(1)} s); ${REQUESTS} sequential requests per page after ${WARMUP} warm-up, keep-alive`,
);
console.log(
  `  ${'page'.padEnd(30)} ${'median'.padStart(9)} ${'p95'.padStart(9)}  ${'size'.padStart(8)}  vs baseline  target < ${TARGET_MS} ms`,
);
const summary: Record<string, { medianMs: number; p95Ms: number; bytes: number; met?: boolean }> = {};
let missed = 0;
for (const target of targets) {
  const result = results.get(target.name);
  if (!result) continue;
  const med = median(result.times);
  const high = p95(result.times);
  const isBaseline = target === targets[0];
  const met = high < TARGET_MS;
  if (!isBaseline && !met) missed++;
  summary[target.name] = { medianMs: med, p95Ms: high, bytes: result.bytes, ...(isBaseline ? {} : { met }) };
  console.log(
    `  ${target.name.padEnd(30)} ${ms(med)} ${ms(high)}  ${`${(result.bytes / 1024).toFixed(1)} kB`.padStart(8)}  ` +
      `${`${(med / baselineMedian).toFixed(1)}×`.padStart(11)}  ${isBaseline ? '' : met ? 'met (p95)' : 'MISSED (p95)'}`,
  );
}
console.log(
  missed === 0
    ? `  every page's p95 is under ${TARGET_MS} ms`
    : `  ${missed} page(s) over ${TARGET_MS} ms at p95: EXPLAIN ANALYZE their queries (dashboard/queries.ts, engine/run-store.ts)`,
);
saveResult('dashboard', {
  ...counts,
  bigRunNodes: bigRun.nodes,
  requests: REQUESTS,
  seedSeconds,
  pages: summary,
});
process.exitCode = missed === 0 ? 0 : 1;
