import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { copyLanding, tableChecksums } from '../support/landing-copy.ts';
import { serverUrl, withDatabase } from '../support/urls.ts';

/**
 * One CSV record of hundreds of megabytes (a header, then no line break) through the real CLI:
 * rejected while it streams, naming file and line, never retried, nothing loaded, and the
 * process's memory bounded by the limit, not by the record.
 */

const MONTH = '2026-10';
const TRAFFIC_FILE = `traffic/${MONTH}.csv`;
let database: TestDatabase;
let landing: string;

function pipeline(args: string[], env: Record<string, string> = {}, measureMemory = false) {
  return runCli(args, {
    env: {
      DATABASE_URL: withDatabase(serverUrl(), database.name),
      LANDING_DIR: landing,
      LOG_LEVEL: undefined,
      PIPELINE_MAX_RECORD_BYTES: undefined,
      ...env,
    },
    timeoutMs: 120_000,
    measureMemory,
  });
}

/** Replaces the month's traffic file by its header and `megabytes` MB of one unbroken record. */
function hugeRecord(megabytes: number): void {
  const path = join(landing, TRAFFIC_FILE);
  const header = readFileSync(path, 'utf8').split('\r\n')[0];
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, `${header}\r\n`);
    const block = Buffer.alloc(1024 * 1024, '7');
    for (let i = 0; i < megabytes; i++) writeSync(fd, block);
  } finally {
    closeSync(fd);
  }
}

async function trafficAttempts(runId: string): Promise<{ status: string; attempts: number }[]> {
  return database.sql<{ status: string; attempts: number }[]>`
    select status, attempts from run_nodes where run_id = ${runId} and asset_key = 'traffic'`;
}

const runIdOf = (stdout: string) => /^run (\S+):/m.exec(stdout)?.[1] ?? '';

beforeAll(async () => {
  database = await createTestDatabase();
  landing = copyLanding();
  // Traffic's upstream (channels, customers), loaded once.
  const upstream = await pipeline([
    'materialize',
    'channels,customer_snapshots,customers',
    '--from',
    '2025-09',
    '--to',
    MONTH,
    '--in-process',
  ]);
  expect(upstream.code, upstream.stdout + upstream.stderr).toBe(0);
}, 130_000);
afterAll(async () => {
  await database?.drop();
  if (landing) rmSync(landing, { recursive: true, force: true });
});

describe('pipeline materialize traffic with one huge record', () => {
  it('200 MB without a line break: rejected at line 2, not retried, nothing loaded, peak RSS < 300 MB', async () => {
    hugeRecord(200);
    const before = await tableChecksums(database.sql);
    const result = await pipeline(['materialize', 'traffic', '--partition', MONTH, '--in-process'], {}, true);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toContain(
      `${TRAFFIC_FILE}:2: row: record longer than 1048576 bytes (PIPELINE_MAX_RECORD_BYTES)`,
    );
    expect(result.stdout).not.toContain('↻'); // an input error: never retried
    expect(await trafficAttempts(runIdOf(result.stdout))).toEqual([{ status: 'failed', attempts: 1 }]);
    expect(await tableChecksums(database.sql)).toEqual(before);
    expect(result.peakRssMb).toBeGreaterThan(0);
    expect(result.peakRssMb).toBeLessThan(300);
  });

  it('PIPELINE_MAX_RECORD_BYTES sets the limit; an invalid value is one line, exit 2', async () => {
    hugeRecord(5);
    const before = await tableChecksums(database.sql);
    const result = await pipeline(['materialize', 'traffic', '--partition', MONTH, '--in-process'], {
      PIPELINE_MAX_RECORD_BYTES: '4096',
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      `${TRAFFIC_FILE}:2: row: record longer than 4096 bytes (PIPELINE_MAX_RECORD_BYTES)`,
    );
    expect(await tableChecksums(database.sql)).toEqual(before);

    const invalid = await pipeline(['status'], { PIPELINE_MAX_RECORD_BYTES: 'lots' });
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/^pipeline: invalid environment: PIPELINE_MAX_RECORD_BYTES .*\n$/);
  });
});
