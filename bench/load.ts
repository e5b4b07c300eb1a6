/**
 * npm run bench:load — loading ≥ 10 M traffic rows (24 monthly files) with every constraint
 * enforced, against the physical floor measured in the same run: psql \copy of the same files into
 * a bare UNLOGGED table without indexes. Target (issue 5): ≥ 0.30 of the floor's speed, loader
 * peak RSS < 200 MB. Then (c): the same files loaded from a local S3-compatible server (s3rver, its
 * own process) against local disk, alternating, median of BENCH_RUNS rounds: target ≥ 0.8.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../engine/database.ts';
import { startS3rver, uploadFolder } from '../tests/support/s3.ts';
import {
  BENCH_FIRST,
  BENCH_LANDING,
  BENCH_LAST,
  ensureBenchLanding,
  formatRate,
  freshDatabase,
  median,
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
/** Everything traffic reads (loaded untimed), and the timed load of traffic itself. */
const UPSTREAM = [
  'materialize',
  'channels,customer_snapshots,customers',
  '--from',
  FIRST,
  '--to',
  LAST,
  '--in-process',
];
const TRAFFIC = [
  'materialize',
  'traffic',
  '--from',
  FIRST,
  '--to',
  LAST,
  '--in-process',
  '--concurrency',
  String(CONCURRENCY),
];
await runPipeline(UPSTREAM, env);
started = performance.now();
const timed = await runCommand('/usr/bin/time', ['-f', 'peak-rss-kb %M', PIPELINE_BIN, ...TRAFFIC], env);
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

// (c) object storage against local disk: each round loads traffic afresh from each, alternating.
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const s3 = await startS3rver('bench');
let s3Ratio = 0;
try {
  await uploadFolder(s3.client, s3.bucket, 'landing', LANDING);
  const sources = { disk: { LANDING_DIR: LANDING }, s3: s3.env(`s3://${s3.bucket}/landing`) };
  const seconds: Record<keyof typeof sources, number[]> = { disk: [], s3: [] };
  for (let round = 0; round < RUNS; round++) {
    for (const [name, source] of Object.entries(sources) as [
      keyof typeof sources,
      Record<string, string | undefined>,
    ][]) {
      const roundUrl = await freshDatabase('pipeline_bench_load_source');
      const roundEnv = { ...process.env, ...source, DATABASE_URL: roundUrl, LOG_LEVEL: undefined };
      await runPipeline(UPSTREAM, roundEnv);
      const began = performance.now();
      await runPipeline(TRAFFIC, roundEnv);
      seconds[name].push((performance.now() - began) / 1000);
    }
  }
  // Same rows either way: the ratio of throughputs is the inverse ratio of times.
  s3Ratio = median(seconds.disk) / median(seconds.s3);
  console.log(
    `  (c) materialize traffic from s3rver vs from local disk, median of ${RUNS} rounds: ` +
      `${formatRate(rows / median(seconds.s3))} vs ${formatRate(rows / median(seconds.disk))} rows/s, ` +
      `ratio ${s3Ratio.toFixed(2)} (target ≥ 0.8: ${s3Ratio >= 0.8 ? 'met' : 'MISSED'})`,
  );
} finally {
  s3.client.destroy();
  await s3.stop();
}
saveResult('load', {
  rows,
  floorSeconds,
  loadSeconds,
  ratio,
  peakRssMb,
  concurrency: CONCURRENCY,
  phases,
  s3Ratio,
});
