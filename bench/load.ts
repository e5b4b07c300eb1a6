/**
 * npm run bench:load — loading ≥ 10 M traffic rows (24 monthly files) with every constraint
 * enforced, against the physical floor measured in the same run: psql \copy of the same files into
 * a bare UNLOGGED table without indexes. Target (issue 5): ≥ 0.30 of the floor's speed, loader
 * peak RSS < 200 MB.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../engine/database.ts';
import {
  BENCH_FIRST,
  BENCH_LANDING,
  BENCH_LAST,
  ensureBenchLanding,
  formatRate,
  freshDatabase,
  PIPELINE_BIN,
  runCommand,
  runPipeline,
  saveResult,
} from './support.ts';

const LANDING = BENCH_LANDING;
const FIRST = BENCH_FIRST;
const LAST = BENCH_LAST;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 2); // partitions loaded at a time

await ensureBenchLanding();
const files = readdirSync(join(LANDING, 'traffic')).sort();

// (a) the floor: psql \copy into a bare unlogged table.
const floorUrl = await freshDatabase('pipeline_bench_floor');
const floor = await openDatabase(floorUrl, { max: 1 });
await floor.sql`create unlogged table floor (send_date date, account_id int, customer_id int, channel_id int,
  interactions_count int, revenue_eur numeric(12, 2))`;
let started = performance.now();
for (const file of files) {
  await runCommand('psql', [
    floorUrl,
    '-qc',
    `\\copy floor from '${join(LANDING, 'traffic', file)}' (format csv, header true)`,
  ]);
}
const floorSeconds = (performance.now() - started) / 1000;
const [counted] = await floor.sql<{ n: number }[]>`select count(*)::int as n from floor`;
const rows = counted?.n ?? 0;
await floor.close();

// (b) the traffic asset over every partition, after its upstream is loaded (not timed).
const url = await freshDatabase('pipeline_bench_load');
const env = { ...process.env, DATABASE_URL: url, LANDING_DIR: LANDING, LOG_LEVEL: undefined };
await runPipeline(
  ['materialize', 'channels,customer_snapshots,customers', '--from', FIRST, '--to', LAST, '--in-process'],
  env,
);
started = performance.now();
const timed = await runCommand(
  '/usr/bin/time',
  [
    '-f',
    'peak-rss-kb %M',
    PIPELINE_BIN,
    'materialize',
    'traffic',
    '--from',
    FIRST,
    '--to',
    LAST,
    '--in-process',
    '--concurrency',
    String(CONCURRENCY),
  ],
  env,
);
const loadSeconds = (performance.now() - started) / 1000;
const peakRssMb = Math.round(Number(/peak-rss-kb (\d+)/.exec(timed)?.[1] ?? 0) / 1024);
// Where the time goes, from the materializations' own metadata (summed over nodes).
const database = await openDatabase(url, { max: 1 });
const [phases] = await database.sql<
  { copy: number; index: number; attach: number; checks: number; validated: number }[]
>`select sum((metadata->>'copySeconds')::float) as copy, sum((metadata->>'indexSeconds')::float) as index,
    sum((metadata->>'attachSeconds')::float) as attach,
    sum(duration_ms / 1000.0 - (metadata->>'seconds')::float)::float as checks,
    count(*) filter (where metadata->>'path' <> 'copy')::int as validated
  from materializations where asset_key = 'traffic'`;
await database.close();
if (!/succeeded: 24 succeeded/.test(timed)) throw new Error(`the load did not succeed:\n${timed}`);

const ratio = floorSeconds / loadSeconds;
console.log(`load: ${rows.toLocaleString('en-US')} traffic rows in ${files.length} monthly files`);
console.log(
  `  (a) floor: psql \\copy into a bare unlogged table   ${floorSeconds.toFixed(1)} s  ${formatRate(rows / floorSeconds)} rows/s`,
);
console.log(
  `  (b) materialize traffic, every constraint enforced  ${loadSeconds.toFixed(1)} s  ${formatRate(rows / loadSeconds)} rows/s  peak RSS ${peakRssMb} MB`,
);
console.log(
  `  speed (b)/(a): ${ratio.toFixed(2)} of the floor (target ≥ 0.30: ${ratio >= 0.3 ? 'met' : 'MISSED'})`,
);
const phase = (seconds: number | undefined) => `${(seconds ?? 0).toFixed(1)} s`;
console.log(
  `  where (b)'s time goes, summed over nodes (${CONCURRENCY} at a time): COPY into the month table ${phase(phases?.copy)}, ` +
    `bulk indexes + verify ${phase(phases?.index)}, attach + analyze ${phase(phases?.attach)}, checks ${phase(phases?.checks)}` +
    (phases?.validated ? ` (${phases.validated} files took the validated path)` : ''),
);
saveResult('load', { rows, floorSeconds, loadSeconds, ratio, peakRssMb, concurrency: CONCURRENCY, phases });
