/**
 * npm run bench:generate — `pipeline generate` at ≥ 10 M traffic rows, against the disk's write
 * floor measured in the same run (the same number of bytes written in 1 MiB blocks, no generation).
 * Targets (issue 3): ≥ 1 M traffic rows/s, peak RSS < 200 MB.
 */
import { closeSync, fsyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { formatRate, median, REPO_ROOT, runPipeline, saveResult } from './support.ts';

const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 11_000); // ≈ 10.8 M traffic rows over 24 months
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
// Kept for the load and analytics benches, which reuse the default size.
const OUT = join(REPO_ROOT, 'data', 'bench', `landing-${CUSTOMERS}`);

type GenerateRun = { trafficRows: number; bytes: number; seconds: number; peakRssMb: number };

async function generateOnce(): Promise<GenerateRun> {
  const started = performance.now();
  const stdout = await runPipeline([
    'generate',
    '--out',
    OUT,
    '--customers',
    String(CUSTOMERS),
    '--months',
    '24',
    '--end',
    '2026-10',
  ]);
  const seconds = (performance.now() - started) / 1000;
  const match = /\(([\d,]+) traffic\), ([\d.]+) MB in [\d.]+ s \(peak RSS (\d+) MB\)/.exec(stdout);
  if (!match) throw new Error(`unexpected summary: ${stdout}`);
  const [, rows = '', megabytes = '', rss = ''] = match;
  return {
    trafficRows: Number(rows.replaceAll(',', '')),
    bytes: Number(megabytes) * 1e6,
    seconds,
    peakRssMb: Number(rss),
  };
}

/** Writes `bytes` in 1 MiB blocks and syncs, as the generator's files reach the disk. */
function writeFloorSeconds(bytes: number): number {
  const path = join(REPO_ROOT, 'data', 'bench', 'floor.bin');
  const block = Buffer.alloc(1 << 20, 'x');
  const started = performance.now();
  const fd = openSync(path, 'w');
  for (let written = 0; written < bytes; written += block.length) writeSync(fd, block);
  fsyncSync(fd);
  closeSync(fd);
  const seconds = (performance.now() - started) / 1000;
  rmSync(path);
  return seconds;
}

const runs: GenerateRun[] = [];
const floors: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const run = await generateOnce();
  runs.push(run);
  floors.push(writeFloorSeconds(run.bytes));
}
const [first] = runs;
if (!first) throw new Error('no runs');
const seconds = median(runs.map((r) => r.seconds));
const floorSeconds = median(floors);
const rowsPerSecond = first.trafficRows / seconds;
const peakRssMb = Math.max(...runs.map((r) => r.peakRssMb));

console.log(
  `generate: ${first.trafficRows.toLocaleString('en-US')} traffic rows, ${(first.bytes / 1e6).toFixed(0)} MB, median of ${RUNS} runs`,
);
console.log(
  `  pipeline generate (whole CLI process)  ${seconds.toFixed(2)} s  ${formatRate(rowsPerSecond)} traffic rows/s  peak RSS ${peakRssMb} MB`,
);
console.log(`  baseline: write the same bytes         ${floorSeconds.toFixed(2)} s`);
console.log(`  ratio generate / write floor            ${(seconds / floorSeconds).toFixed(2)}×`);
console.log(
  `  targets: ≥ 1 M rows/s ${rowsPerSecond >= 1e6 ? 'met' : 'MISSED'}, peak RSS < 200 MB ${peakRssMb < 200 ? 'met' : 'MISSED'}`,
);
saveResult('generate', { trafficRows: first.trafficRows, seconds, floorSeconds, rowsPerSecond, peakRssMb });
