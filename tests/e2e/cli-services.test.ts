import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { redisUrl, serverUrl, withDatabase } from '../support/urls.ts';

// Port 1 on loopback: nothing listens there, so connections are refused at once.
const DEAD_POSTGRES = 'postgres://someone:s3cret-pw@127.0.0.1:1/pipeline';
const DEAD_REDIS = 'redis://:s3cret-pw@127.0.0.1:1';

function expectOneCleanLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
  expect(stderr).not.toContain('s3cret-pw');
  return lines[0] ?? '';
}

// doctor needs a migrated database that answers: this file's own; and a landing zone to look at.
let database: TestDatabase;
let databaseUrl: string;
const scratch = mkdtempSync(join(tmpdir(), 'pipeline-doctor-'));
const landing = join(scratch, 'landing');
beforeAll(async () => {
  database = await createTestDatabase();
  databaseUrl = withDatabase(serverUrl(), database.name);
  const small = '--customers 20 --months 2 --end 2026-10'.split(' ');
  const generated = await runCli(['generate', '--out', landing, ...small]);
  expect(generated.code).toBe(0);
});
afterAll(async () => {
  await database?.drop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('unreachable services', () => {
  it('migrate names the Postgres URL with the password masked and says how to start it', async () => {
    const result = await runCli(['migrate'], { env: { DATABASE_URL: DEAD_POSTGRES } });
    expect(result.code).toBe(3);
    const line = expectOneCleanLine(result.stderr);
    expect(line).toContain('PostgreSQL is not reachable at postgres://someone:****@127.0.0.1:1/pipeline');
    expect(line).toContain('docker compose up -d postgres');
  });

  it('doctor names the Redis URL with the password masked and says how to start it', async () => {
    const result = await runCli(['doctor'], { env: { DATABASE_URL: databaseUrl, REDIS_URL: DEAD_REDIS } });
    expect(result.code).toBe(3);
    const line = expectOneCleanLine(result.stderr);
    expect(line).toContain('Redis is not reachable at redis://:****@127.0.0.1:1');
    expect(line).toContain('docker compose up -d redis');
    expect(result.stdout).toContain('postgres ok');
  });

  it('doctor reports both services and the landing folder when they answer', async () => {
    const result = await runCli(['doctor'], {
      env: { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl(), LANDING_DIR: landing },
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/postgres ok .*PostgreSQL \d+/);
    expect(result.stdout).toMatch(/redis +ok .*Redis \d+/);
    expect(result.stdout).toContain(
      `landing  ok  ${landing} (5 landing files: 2 customers, 2 traffic, channels.csv)`,
    );
  });

  it('doctor names a missing landing folder in one line, exit 3', async () => {
    const missing = join(scratch, 'nowhere');
    const result = await runCli(['doctor'], {
      env: { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl(), LANDING_DIR: missing },
    });
    expect(result.code).toBe(3);
    expect(expectOneCleanLine(result.stderr)).toContain(
      `landing zone ${missing} does not exist: set LANDING_DIR, or write one with \`npx pipeline generate --out ${missing}\``,
    );
    expect(result.stdout).toMatch(/redis +ok/);
  });

  it('doctor says an empty landing folder holds no landing files (and passes)', async () => {
    const empty = join(scratch, 'empty');
    mkdirSync(empty);
    const result = await runCli(['doctor'], {
      env: { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl(), LANDING_DIR: empty },
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      `landing  ok  ${empty} (0 landing files: 0 customers, 0 traffic, no channels.csv)`,
    );
  });

  it('a missing database says to run migrate', async () => {
    const url = new URL(serverUrl());
    url.pathname = '/pipeline_does_not_exist_anywhere';
    const result = await runCli(['doctor'], { env: { DATABASE_URL: url.toString() } });
    expect(result.code).toBe(3);
    expect(expectOneCleanLine(result.stderr)).toContain('run `npx pipeline migrate` to create it');
  });
});

describe('configuration and usage errors', () => {
  it('an invalid DATABASE_URL is one line naming the variable, exit 2', async () => {
    const result = await runCli(['doctor'], { env: { DATABASE_URL: 'mysql://localhost/x' } });
    expect(result.code).toBe(2);
    expect(expectOneCleanLine(result.stderr)).toContain(
      'DATABASE_URL must be a URL starting with postgres://',
    );
  });

  it('an unknown command exits 2 and points at --help', async () => {
    const result = await runCli(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown command 'frobnicate'");
  });

  it('--help lists the commands and exits 0', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('migrate');
    expect(result.stdout).toContain('doctor');
  });
});
