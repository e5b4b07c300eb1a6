/**
 * npm run bench:status — the state of every asset over 10 years of monthly partitions, with a
 * history of 1 000 monthly runs and 10 full backfills (target: < 200 ms wall time, excluding CLI
 * start-up: what `pipeline status --json` computes and prints, timed in this process).
 *
 * The history is written straight into the engine's tables, as the node protocol records it:
 * every materialization with its data version, code version and the versions of the inputs it
 * read (in the order the runs happened, so every cell is current at the end), every landing file a
 * real (small) file whose fingerprint the load recorded. Baseline, in the same run: the two
 * indexed queries the state is read from, alone (what any state computation over this history
 * reads), so the ratio shows what the engine adds on top.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assets } from '../assets/index.ts';
import { fileFingerprint } from '../assets/landing/local-landing-zone.ts';
import { assetState } from '../engine/asset-state.ts';
import { openDatabase } from '../engine/database.ts';
import { AssetGraph } from '../engine/graph.ts';
import { inputsOf } from '../engine/lineage.ts';
import { monthKey, monthRange, parseMonth } from '../engine/months.ts';
import { type NodeRef, nodeId } from '../engine/node.ts';
import { freshDatabase, median, saveResult } from './support.ts';

const MONTHS = 120;
const LAST = '2026-10';
const MONTHLY_RUNS = 1_000;
const BACKFILLS = 10;
const ROUNDS = Number(process.env.BENCH_RUNS ?? 7);
const TARGET_MS = 200;

const graph = new AssetGraph(assets.filter((asset) => asset.group !== 'market'));
const months = monthRange(parseMonth(LAST) - MONTHS + 1, parseMonth(LAST)).map(monthKey);
const url = await freshDatabase('pipeline_bench_status');
const database = await openDatabase(url, { max: 4 });
const { sql } = database;

// The landing zone: a small file per source and month, as the loads found them.
const landing = mkdtempSync(join(tmpdir(), 'pipeline-bench-status-'));
const files = new Map<string, { name: string; fingerprint: string; sha256: string }>();
function landingFile(name: string): { name: string; fingerprint: string; sha256: string } {
  const path = join(landing, name);
  mkdirSync(join(path, '..'), { recursive: true });
  const bytes = `header\n${name}\n`;
  writeFileSync(path, bytes);
  return {
    name,
    fingerprint: fileFingerprint(statSync(path)),
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}
files.set('channels', landingFile('channels.csv'));
for (const month of months) {
  files.set(nodeId('customer_snapshots', month), landingFile(`customers/${month}.csv`));
  files.set(nodeId('traffic', month), landingFile(`traffic/${month}.csv`));
}

// The history, in the order it happened: the backfills, then the monthly runs (each one month).
const version = new Map<string, string>();
let clock = Date.parse('2020-01-01T00:00:00Z');
type Row = {
  runId: string;
  position: number;
  node: NodeRef;
  at: string;
  dataVersion: string;
  inputs: string;
  source: string | null;
};
const rows: Row[] = [];
const runRows: { id: string; from: string; to: string; at: string }[] = [];
function run(nodeList: NodeRef[]) {
  const runId = randomUUID();
  const ordered = nodeList.sort(
    (a, b) =>
      graph.order.indexOf(a.assetKey) - graph.order.indexOf(b.assetKey) ||
      a.partitionKey.localeCompare(b.partitionKey),
  );
  const partitions = ordered
    .map((n) => n.partitionKey)
    .filter(Boolean)
    .sort();
  runRows.push({
    id: runId,
    from: partitions[0] ?? '',
    to: partitions.at(-1) ?? '',
    at: new Date(clock).toISOString(),
  });
  for (const [position, node] of ordered.entries()) {
    clock += 1_000;
    const id = nodeId(node.assetKey, node.partitionKey);
    const source = graph.get(node.assetKey).source ? (files.get(id) ?? null) : null;
    const read = inputsOf(graph, node, { propagatingOnly: true }).flatMap((input) =>
      (input.partitionKey === null ? months : [input.partitionKey])
        .filter((p) => version.has(nodeId(input.assetKey, p)))
        .map((p) => [input.assetKey, p, version.get(nodeId(input.assetKey, p)) ?? null]),
    );
    const dataVersion =
      source?.sha256 ??
      createHash('sha256')
        .update(`1:${JSON.stringify(read)}`)
        .digest('hex');
    version.set(id, dataVersion);
    rows.push({
      runId,
      position,
      node,
      at: new Date(clock).toISOString(),
      dataVersion,
      inputs: JSON.stringify(read),
      source: source ? JSON.stringify(source) : null,
    });
  }
}
const everything = (ms: string[]) =>
  graph.keys.flatMap((assetKey) =>
    graph.get(assetKey).partitions
      ? ms.map((partitionKey) => ({ assetKey, partitionKey }))
      : [{ assetKey, partitionKey: '' }],
  );
for (let i = 0; i < BACKFILLS; i++) run(everything(months));
for (let i = 0; i < MONTHLY_RUNS; i++) run(everything([months[i % MONTHS] as string]));

const seedStarted = performance.now();
await sql`
  insert into runs (id, trigger, selection, executor, status, partition_from, partition_to, created_at, started_at, finished_at)
  select id, 'bench', '* -group:market', 'bullmq', 'succeeded', nullif(f, ''), nullif(t, ''), at, at, at
  from unnest(${runRows.map((r) => r.id)}::uuid[], ${runRows.map((r) => r.from)}::text[], ${runRows.map((r) => r.to)}::text[],
    ${runRows.map((r) => r.at)}::text[]::timestamptz[]) as r(id, f, t, at)`;
const BATCH = 5_000;
for (let start = 0; start < rows.length; start += BATCH) {
  const batch = rows.slice(start, start + BATCH);
  const columns = {
    run: batch.map((r) => r.runId),
    position: batch.map((r) => r.position),
    asset: batch.map((r) => r.node.assetKey),
    partition: batch.map((r) => r.node.partitionKey),
    at: batch.map((r) => r.at),
    version: batch.map((r) => r.dataVersion),
    inputs: batch.map((r) => r.inputs),
    source: batch.map((r) => r.source),
  };
  await sql`
    insert into materializations (run_id, asset_key, partition_key, materialized_at, duration_ms, metadata, data_version,
      code_version, inputs, source)
    select run, asset, part, at, 1, '{"rowCount": 1}', version, '1', inputs::jsonb, source::jsonb
    from unnest(${columns.run}::uuid[], ${columns.asset}::text[], ${columns.partition}::text[], ${columns.at}::text[]::timestamptz[],
      ${columns.version}::text[], ${columns.inputs}::text[], ${columns.source}::text[])
      as m(run, asset, part, at, version, inputs, source)`;
  await sql`
    insert into run_nodes (run_id, asset_key, partition_key, position, status, attempts, started_at, finished_at, duration_ms)
    select run, asset, part, position, 'succeeded', 1, at, at, 1
    from unnest(${columns.run}::uuid[], ${columns.asset}::text[], ${columns.partition}::text[], ${columns.at}::text[]::timestamptz[],
      ${columns.position}::int[]) as n(run, asset, part, at, position)`;
}
await sql`analyze`;
const seedSeconds = (performance.now() - seedStarted) / 1000;

const config = { landingDir: landing, exportDir: landing, allowBadRows: 0 };
/** What `pipeline status --json` does once the CLI has started: the grid, then its JSON. */
async function status(): Promise<{ cells: number; notMaterialized: number }> {
  const grid = await assetState({ database, graph, config });
  const cells = graph.keys.flatMap((key) =>
    graph.get(key).partitions ? grid.months.map((m) => grid.cell(key, m)) : [grid.cell(key, '')],
  );
  const json = JSON.stringify(
    cells.map((c) => ({
      asset: c.assetKey,
      partition: c.partitionKey || null,
      state: c.state,
      reason: c.reason,
      materializedAt: c.materializedAt?.toISOString() ?? null,
      dataVersion: c.dataVersion,
    })),
  );
  if (json.length === 0) throw new Error('no output');
  return { cells: cells.length, notMaterialized: cells.filter((c) => c.state !== 'materialized').length };
}
/** The baseline: the two queries the state is read from, alone. */
async function queries(): Promise<void> {
  await Promise.all([
    sql`with latest as (
          select distinct on (asset_key, partition_key) id from materializations
          where partition_key = '' or partition_key between ${months[0] ?? ''} and ${LAST}
          order by asset_key, partition_key, materialized_at desc, id desc)
        select m.* from materializations m join latest using (id)`,
    sql`select distinct on (asset_key, partition_key) asset_key, partition_key, status, error, run_id, started_at
        from run_nodes where status in ('running', 'failed')
          and (partition_key = '' or partition_key between ${months[0] ?? ''} and ${LAST})
        order by asset_key, partition_key, started_at desc`,
  ]);
}

const first = await status(); // warm-up, and the sanity check below
if (first.notMaterialized !== 0)
  throw new Error(`${first.notMaterialized} cells are not materialized: the seed is wrong`);
await queries();
const statusMs: number[] = [];
const queryMs: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  let started = performance.now();
  await queries();
  queryMs.push(performance.now() - started);
  started = performance.now();
  await status();
  statusMs.push(performance.now() - started);
}
const ms = median(statusMs);
const baseline = median(queryMs);
const [counts] = await sql<{ materializations: number; nodes: number }[]>`
  select (select count(*) from materializations)::int as materializations, (select count(*) from run_nodes)::int as nodes`;
await database.close();
rmSync(landing, { recursive: true, force: true });

console.log(
  `status: ${graph.keys.length} assets × ${MONTHS} months (${first.cells} cells), ${MONTHLY_RUNS} monthly runs and ${BACKFILLS} full backfills ` +
    `(${counts?.materializations} materializations, ${counts?.nodes} run nodes; seeded in ${seedSeconds.toFixed(1)} s); medians of ${ROUNDS} rounds`,
);
console.log(
  `  the state of every cell, as \`pipeline status --json\` computes and prints it   ${ms.toFixed(1)} ms`,
);
console.log(
  `  baseline: its two indexed queries alone                                         ${baseline.toFixed(1)} ms`,
);
console.log(
  `  ratio: ${(ms / baseline).toFixed(2)}× the queries; target < ${TARGET_MS} ms: ${ms < TARGET_MS ? 'MET' : 'MISSED'} (${ms.toFixed(1)} ms)`,
);
console.log(
  `  rounds: status ${statusMs.map((v) => v.toFixed(1)).join(', ')}; queries ${queryMs.map((v) => v.toFixed(1)).join(', ')} ms`,
);
saveResult('status', {
  assets: graph.keys.length,
  months: MONTHS,
  cells: first.cells,
  monthlyRuns: MONTHLY_RUNS,
  backfills: BACKFILLS,
  materializations: counts?.materializations,
  statusMs: ms,
  queriesMs: baseline,
  ratio: ms / baseline,
  met: ms < TARGET_MS,
  rounds: { status: statusMs, queries: queryMs },
});
