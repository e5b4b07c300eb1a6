/**
 * The README's benchmark table, written from the latest results in bench/results/ (each bench
 * saves its figures there): `npm run bench` regenerates it after running every benchmark.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './support.ts';

type Result = Record<string, unknown>;
const START = '<!-- bench:table:start -->';
const END = '<!-- bench:table:end -->';

function load(name: string): Result | undefined {
  const path = join(REPO_ROOT, 'bench', 'results', `${name}.json`);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Result) : undefined;
}

const n = (value: unknown, digits = 2) => Number(value).toFixed(digits);
const rate = (perSecond: number) =>
  perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)} M` : `${Math.round(perSecond / 1e3)} k`;
const met = (ok: boolean) => (ok ? 'met' : '**missed**');
const day = (result: Result) => String(result.measuredAt ?? '').slice(0, 10);

/** One row per benchmark that has results: what, figure, baseline, target. */
export function benchmarkRows(): string[] {
  const rows: string[] = [];
  const generate = load('generate');
  if (generate) {
    const perSecond = Number(generate.rowsPerSecond);
    rows.push(
      `| \`npm run bench:generate\` | \`pipeline generate --customers 11000\` (${Number(generate.trafficRows).toLocaleString('en-US')} traffic rows) | ${rate(perSecond)} rows/s, ${n(generate.seconds)} s, peak RSS ${generate.peakRssMb} MB | writing the same bytes: ${n(generate.floorSeconds)} s | ≥ 1 M rows/s, < 200 MB: ${met(perSecond >= 1e6 && Number(generate.peakRssMb) < 200)} | ${day(generate)} |`,
    );
  }
  const loadResult = load('load');
  if (loadResult) {
    const rows_ = Number(loadResult.rows);
    const ratio = Number(loadResult.ratio);
    rows.push(
      `| \`npm run bench:load\` | \`materialize traffic\`, ${rows_.toLocaleString('en-US')} rows in 24 files, every constraint enforced | ${rate(rows_ / Number(loadResult.loadSeconds))} rows/s, ${n(loadResult.loadSeconds, 1)} s, peak RSS ${loadResult.peakRssMb} MB | \`psql \\copy\` into a bare unlogged table: ${rate(rows_ / Number(loadResult.floorSeconds))} rows/s | ≥ 0.30 of the floor: ${met(ratio >= 0.3)} (${n(ratio)}) | ${day(loadResult)} |`,
    );
  }
  const analytics = load('analytics');
  if (analytics) {
    const ratio = Number(analytics.ratio);
    rows.push(
      `| \`npm run bench:analytics\` | every analytics asset of partition ${analytics.partition} (W12: ${Number(analytics.windowRows).toLocaleString('en-US')} traffic rows) | ${n(analytics.runSeconds)} s | one scan of W12: ${n(analytics.baselineSeconds)} s | ≤ 2× the scan: ${met(ratio <= 2)} (${n(ratio)}×) | ${day(analytics)} |`,
    );
  }
  const orchestration = load('orchestration');
  if (orchestration) {
    const ratio = Number(orchestration.ratio);
    const ms = Number(orchestration.serialMs);
    rows.push(
      `| \`npm run bench:orchestration\` | ${orchestration.nodes} no-op assets (6 levels, ${orchestration.joins} joins) through one worker, concurrency 1 (2) | ${Math.round(ms)} ms (${Math.round(Number(orchestration.parallelMs))} ms) | ${orchestration.nodes} BullMQ jobs each committing a row: ${Math.round(Number(orchestration.durableMs))} ms (${Math.round(Number(orchestration.durable2Ms))} ms) | ≤ 3× and < 150 ms: ${met(ratio <= 3 && ms < 150)} (${n(ratio, 1)}×; ${n(Number(orchestration.ratio2), 1)}× at concurrency 2) | ${day(orchestration)} |`,
    );
  }
  const dashboard = load('dashboard');
  if (dashboard) {
    const pages = dashboard.pages as Record<string, { medianMs: number; p95Ms: number }>;
    const measured = Object.entries(pages).filter(([page]) => page.startsWith('/'));
    const worst = Math.max(...measured.map(([, page]) => page.p95Ms));
    rows.push(
      `| \`npm run bench:dashboard\` | every page with ${Number(dashboard.runs).toLocaleString('en-US')} runs in the history | p95 ${measured.map(([page, figures]) => `\`${page}\` ${Math.round(figures.p95Ms)} ms`).join(', ')} | a constant page: median ${n(pages['baseline (constant page)']?.medianMs ?? 0, 1)} ms | < 100 ms: ${met(worst < 100)} | ${day(dashboard)} |`,
    );
  }
  const status = load('status');
  if (status) {
    const ms = Number(status.statusMs);
    rows.push(
      `| \`npm run bench:status\` | the state of every asset over ${status.months} months (${status.cells} cells; ${status.monthlyRuns} monthly runs and ${status.backfills} backfills in the history), as \`pipeline status --json\` computes it | ${Math.round(ms)} ms | its two indexed queries alone: ${Math.round(Number(status.queriesMs))} ms | < 200 ms: ${met(ms < 200)} (${n(status.ratio)}× the queries) | ${day(status)} |`,
    );
  }
  return rows;
}

export function rewriteReadmeTable(): void {
  const path = join(REPO_ROOT, 'README.md');
  const readme = readFileSync(path, 'utf8');
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start === -1 || end === -1) throw new Error(`README.md has no ${START} … ${END} markers`);
  const table = [
    '| benchmark | what | figure | baseline in the same run | target | measured |',
    '|---|---|---|---|---|---|',
    ...benchmarkRows(),
  ].join('\n');
  writeFileSync(path, `${readme.slice(0, start + START.length)}\n${table}\n${readme.slice(end)}`);
}
