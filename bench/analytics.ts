/**
 * npm run bench:analytics — every analytics asset of one partition P (P's own rollups, the
 * business and statistics answers, the unpartitioned serving table) on a landing zone of ≥ 10 M
 * traffic rows over 24 months, against the floor measured in the same run: one scan of P's
 * 12-month window, `select customer_id, date_trunc('month', send_date), sum(revenue_eur) from
 * traffic where send_date in W12 group by 1, 2` through psql. Target (issue 6): all analytics of a
 * partition in ≤ 2× that one scan.
 */
import { openDatabase } from '../engine/database.ts';
import {
  BENCH_FIRST,
  BENCH_LANDING,
  BENCH_LAST,
  ensureBenchLanding,
  freshDatabase,
  median,
  runCommand,
  runPipeline,
  saveResult,
} from './support.ts';

const LANDING = BENCH_LANDING;
const FIRST = BENCH_FIRST;
const LAST = BENCH_LAST;
const PARTITION = LAST; // P
const BEFORE_PARTITION = '2026-09';
const WINDOW_FIRST_MONTH = '2025-11'; // W12(P) = 2025-11 … 2026-10
const WINDOW = { first: '2025-11-01', last: '2026-10-31' };
const RUNS = Number(process.env.BENCH_RUNS ?? 5); // timed rounds (baseline + analytics each), median
const ROLLUPS = ['customer_month_revenue', 'traffic_value_counts'];
const ANALYTICS = [
  'industry_exposure',
  'segment_distribution',
  'segment_changes',
  'top_customers',
  'consistently_active_top_customers',
  'customer_revenue_categories',
  'industry_exposure_extended',
  'descriptive_statistics',
  'customers_revenue_by_period',
];
const ALL_OF_P = [...ROLLUPS, ...ANALYTICS].join(',');
const BASELINE = `select customer_id, date_trunc('month', send_date), sum(revenue_eur) from traffic
  where send_date between '${WINDOW.first}' and '${WINDOW.last}' group by 1, 2`;

await ensureBenchLanding();

const url = await freshDatabase('pipeline_bench_analytics');
const env = { ...process.env, DATABASE_URL: url, LANDING_DIR: LANDING, LOG_LEVEL: undefined };
const database = await openDatabase(url, { max: 1 });

type Run = {
  id: string;
  /** The whole CLI process, tsx start included. */
  processSeconds: number;
  /** The run's own wall time: runs.started_at (just before its first node) to runs.finished_at. */
  seconds: number;
  /** Summed over its nodes (they run 2 at a time). */
  nodeSeconds: number;
  nodes: { node: string; seconds: number }[];
};

/** Runs `pipeline materialize … --in-process` and reads the run's timings back from the database. */
async function materialize(selection: string, partitions: string[]): Promise<Run> {
  const started = performance.now();
  const output = await runPipeline(['materialize', selection, ...partitions, '--in-process'], env);
  const processSeconds = (performance.now() - started) / 1000;
  const outcome = /^run ([0-9a-f-]{36}) (\w+):/m.exec(output);
  if (!outcome?.[1] || outcome[2] !== 'succeeded') {
    throw new Error(`materialize ${selection} did not succeed:\n${output}`);
  }
  const id = outcome[1];
  const [run] = await database.sql<{ seconds: number; nodeSeconds: number }[]>`
    select extract(epoch from r.finished_at - r.started_at)::float8 as seconds,
      (select sum(n.duration_ms) from run_nodes n where n.run_id = r.id)::float8 / 1000 as "nodeSeconds"
    from runs r where r.id = ${id}`;
  const nodes = await database.sql<{ node: string; seconds: number }[]>`
    select asset_key || case when partition_key = '' then '' else '[' || partition_key || ']' end as node,
      duration_ms / 1000.0::float8 as seconds
    from run_nodes where run_id = ${id} order by started_at, position`;
  return { id, processSeconds, seconds: run?.seconds ?? 0, nodeSeconds: run?.nodeSeconds ?? 0, nodes };
}

// The floor runs with JIT off, as the pipeline's own connections do (JIT makes this scan slower).
const BASELINE_ENV = { ...process.env, PGOPTIONS: '-c jit=off' };
await database.sql`set jit = off`;

/** The floor: the one scan of W12 through psql, timed from the outside like the CLI. */
async function baselineOnce(): Promise<number> {
  const started = performance.now();
  await runCommand('psql', [url, '-qAtc', BASELINE], BASELINE_ENV);
  return (performance.now() - started) / 1000;
}

/** The same scan's execution time inside the server (no process start, no rows sent back). */
async function baselineServerOnce(): Promise<number> {
  const [plan] = await database.sql<{ 'QUERY PLAN': [{ 'Execution Time': number }] }[]>`
    explain (analyze, timing off, format json) ${database.sql.unsafe(BASELINE)}`;
  return (plan?.['QUERY PLAN'][0]['Execution Time'] ?? 0) / 1000;
}

/**
 * Untimed: what autovacuum does between monthly loads (the CI server runs with it off), so every
 * round starts from the same rollup tables — without it each delete + insert of P's rows leaves
 * dead tuples and no statistics, and every round is slower than the one before.
 */
async function settle(): Promise<void> {
  await database.sql`vacuum (analyze) customer_month_revenue, traffic_value_counts`;
}

// Setup, not timed: the ingest group over 24 months, then the rollups of every month before P
// (in steady state they exist already: each month's rollups are built once, when its traffic loads).
await runPipeline(['materialize', 'group:ingest', '--from', FIRST, '--to', LAST, '--in-process'], env);
await materialize(ROLLUPS.join(','), ['--from', FIRST, '--to', BEFORE_PARTITION]);
const [counted] = await database.sql<{ rows: number; windowRows: number; customers: number }[]>`
  select count(*)::int as rows,
    (count(*) filter (where send_date between ${WINDOW.first} and ${WINDOW.last}))::int as "windowRows",
    count(distinct customer_id)::int as customers
  from traffic`;

// One warm-up round (not counted), then rounds of baseline + analytics, interleaved so the noise
// of a shared machine falls on both alike.
await settle();
await baselineOnce();
await materialize(ALL_OF_P, ['--partition', PARTITION]);
const baselines: number[] = [];
const serverBaselines: number[] = [];
const runs: Run[] = [];
for (let round = 0; round < RUNS; round++) {
  await settle();
  baselines.push(await baselineOnce());
  serverBaselines.push(await baselineServerOnce());
  runs.push(await materialize(ALL_OF_P, ['--partition', PARTITION]));
}

// Cold: the rollups of all 12 months of W12 rebuilt too (two runs: rollups, then the analytics).
await settle();
const coldRollups = await materialize(ROLLUPS.join(','), ['--from', WINDOW_FIRST_MONTH, '--to', PARTITION]);
const coldAnalytics = await materialize(ANALYTICS.join(','), ['--partition', PARTITION]);
await database.close();

const baselineSeconds = median(baselines);
const baselineServerSeconds = median(serverBaselines);
const bySeconds = [...runs].sort((a, b) => a.seconds - b.seconds);
const typical = bySeconds[Math.floor(bySeconds.length / 2)] as Run; // the median run, for its nodes
const runSeconds = median(runs.map((run) => run.seconds));
const nodeSeconds = median(runs.map((run) => run.nodeSeconds));
const processSeconds = median(runs.map((run) => run.processSeconds));
const ratio = runSeconds / baselineSeconds;
const coldSeconds = coldRollups.seconds + coldAnalytics.seconds;
const coldProcessSeconds = coldRollups.processSeconds + coldAnalytics.processSeconds;

const s = (seconds: number) => `${seconds.toFixed(2)} s`;
const rows = (n: number | undefined) => `${((n ?? 0) / 1e6).toFixed(2)} M`;
console.log(
  `analytics: partition ${PARTITION}, W12 = ${WINDOW.first} … ${WINDOW.last} (${rows(counted?.windowRows)} of ` +
    `${rows(counted?.rows)} traffic rows, ${(counted?.customers ?? 0).toLocaleString('en-US')} customers); medians of ${RUNS}`,
);
console.log(
  '  (the rollup tables are vacuumed and analyzed before each round, untimed, as autovacuum would)',
);
console.log(
  `  (a) baseline: one scan of W12 (customer × month revenue) through psql, JIT off   ${s(baselineSeconds)}` +
    `  (server execution ${s(baselineServerSeconds)})`,
);
console.log(
  `  (b) all analytics of ${PARTITION} (${typical.nodes.length} nodes: its 2 rollups, 8 answers, the serving table)` +
    `   run wall time ${s(runSeconds)}`,
);
console.log(
  `      sum of node durations ${s(nodeSeconds)} (2 at a time); whole CLI process ${s(processSeconds)} (tsx start included)`,
);
console.log(
  `  ratio (b)/(a): ${ratio.toFixed(2)}× the scan (target ≤ 2×: ${ratio <= 2 ? 'met' : 'MISSED'}); ` +
    `vs the server execution ${(runSeconds / baselineServerSeconds).toFixed(2)}×; ` +
    `whole CLI process vs psql ${(processSeconds / baselineSeconds).toFixed(2)}×`,
);
console.log(
  `  cold (once): rollups of all 12 months of W12 rebuilt, then the analytics of ${PARTITION}: run wall time ` +
    `${s(coldSeconds)} (rollups ${s(coldRollups.seconds)} + analytics ${s(coldAnalytics.seconds)}), ` +
    `${(coldSeconds / baselineSeconds).toFixed(2)}× the scan; whole CLI processes ${s(coldProcessSeconds)}`,
);
console.log(`  where (b)'s time goes (the median run, node durations in order of start):`);
const width = Math.max(...typical.nodes.map((node) => node.node.length));
for (const node of typical.nodes) console.log(`    ${node.node.padEnd(width)}  ${s(node.seconds)}`);
saveResult('analytics', {
  partition: PARTITION,
  rows: counted?.rows,
  windowRows: counted?.windowRows,
  runs: RUNS,
  baselineSeconds,
  baselineServerSeconds,
  runSeconds,
  nodeSeconds,
  processSeconds,
  ratio,
  baselines,
  serverBaselines,
  runsSeconds: runs.map((run) => run.seconds),
  cold: {
    seconds: coldSeconds,
    processSeconds: coldProcessSeconds,
    rollupsSeconds: coldRollups.seconds,
    analyticsSeconds: coldAnalytics.seconds,
  },
  nodes: Object.fromEntries(typical.nodes.map((node) => [node.node, node.seconds])),
});
