import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase, quoteIdentifier } from '../engine/database.ts';
import { migrateDatabase } from '../engine/migrations.ts';
import { MIGRATIONS_FOLDER } from '../schema/migrations-folder.ts';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const PIPELINE_BIN = fileURLToPath(new URL('../bin/pipeline.js', import.meta.url));

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Runs a command and returns its output (stdout, then stderr); throws with both when it fails. */
export function runCommand(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(stdout + stderr)
        : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr}`)),
    );
  });
}

/** Runs the real CLI (through its shebang, as npx does). */
export function runPipeline(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return runCommand(PIPELINE_BIN, args, env);
}

/** Keeps the figures of the latest run (bench/results is git-ignored) for the README's table. */
export function saveResult(name: string, result: Record<string, unknown>): void {
  const dir = fileURLToPath(new URL('./results', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    `${dir}/${name}.json`,
    `${JSON.stringify({ ...result, measuredAt: new Date().toISOString() }, null, 2)}\n`,
  );
}

export function formatRate(perSecond: number): string {
  return perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)} M` : `${(perSecond / 1e3).toFixed(1)} k`;
}

/** The server the benchmarks use (DATABASE_URL's, by default the local one). */
const SERVER = process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/pipeline';

/**
 * The benchmark landing zone: 11 000 customers, 24 months to 2026-10 (≈ 10.8 M traffic rows);
 * BENCH_LOAD_CUSTOMERS makes a smaller one (bench:load, for a quick figure).
 */
const BENCH_LANDING_CUSTOMERS = Number(process.env.BENCH_LOAD_CUSTOMERS ?? 11_000);
export const BENCH_LANDING = join(REPO_ROOT, 'data', 'bench', `landing-${BENCH_LANDING_CUSTOMERS}`);
export const BENCH_FIRST = '2024-11';
export const BENCH_LAST = '2026-10';

export function benchDatabaseUrl(name: string): string {
  const url = new URL(SERVER);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops and re-creates a benchmark database, migrated; returns its URL. */
export async function freshDatabase(name: string): Promise<string> {
  const admin = await openDatabase(benchDatabaseUrl('postgres'), { max: 1 });
  await admin.sql.unsafe(`drop database if exists ${quoteIdentifier(name)} with (force)`);
  await admin.close();
  await migrateDatabase(benchDatabaseUrl(name), MIGRATIONS_FOLDER);
  return benchDatabaseUrl(name);
}

/** Generates the benchmark landing zone unless it is there already. */
export async function ensureBenchLanding(): Promise<void> {
  if (existsSync(join(BENCH_LANDING, 'traffic', `${BENCH_LAST}.csv`))) return;
  console.log(`generating the benchmark landing zone (${BENCH_LANDING_CUSTOMERS} customers, 24 months) …`);
  await runPipeline([
    'generate',
    '--out',
    BENCH_LANDING,
    '--customers',
    String(BENCH_LANDING_CUSTOMERS),
    '--months',
    '24',
    '--end',
    BENCH_LAST,
  ]);
}
