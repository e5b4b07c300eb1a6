import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineConfig } from '../../assets/config.ts';
import { assets } from '../../assets/index.ts';
import { monthlyLandingSource } from '../../assets/ingest/landing-source.ts';
import type { S3Options } from '../../assets/landing/s3-client.ts';
import { AssetGraph } from '../../engine/graph.ts';
import { selectAssets } from '../../engine/selection.ts';
import { type CliChild, type CliResult, runCli, startCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { expectAnswers, expectedAnswers } from '../support/fixture-answers.ts';
import { FIXTURE_LANDING } from '../support/landing-copy.ts';
import { deleteRedisKeys, freePort } from '../support/processes.ts';
import { runInProcess } from '../support/run-plan.ts';
import { S3RVER_KEY, type S3Server, startCuttingProxy, startS3rver, uploadFolder } from '../support/s3.ts';
import { redisUrl, serverUrl, withDatabase } from '../support/urls.ts';

/**
 * LANDING_DIR=s3://BUCKET/PREFIX against a real S3-compatible server (s3rver, its own process):
 * the fixture's answers from a bucket, two workers with no landing folder on disk, every error a
 * store can give, and a large object streamed with bounded memory.
 */

const graph = new AssetGraph<PipelineConfig>(assets);
let s3: S3Server;
const fixtureUrl = () => `s3://${s3.bucket}/fixture`;

beforeAll(async () => {
  s3 = await startS3rver();
  await uploadFolder(s3.client, s3.bucket, 'fixture', FIXTURE_LANDING);
});
afterAll(async () => {
  s3?.client.destroy();
  await s3?.stop();
});

/** Runs a CLI command against `database` with the bucket's variables (and `env` over them). */
function pipeline(
  database: TestDatabase,
  args: string[],
  env: Record<string, string | undefined> = {},
  options: { timeoutMs?: number; measureMemory?: boolean } = {},
): Promise<CliResult> {
  return runCli(args, {
    env: {
      ...s3.env(fixtureUrl()),
      DATABASE_URL: withDatabase(serverUrl(), database.name),
      LOG_LEVEL: 'warn',
      ...env,
    },
    timeoutMs: options.timeoutMs ?? 120_000,
    measureMemory: options.measureMemory,
  });
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('the fixture landing zone in a bucket', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database?.drop());

  it('reproduces the fixture answers in-process, with the files’ own SHA-256 as data versions', async () => {
    // The test process is the pipeline here: the SDK finds the credentials where it always does.
    process.env.AWS_ACCESS_KEY_ID = S3RVER_KEY;
    process.env.AWS_SECRET_ACCESS_KEY = S3RVER_KEY;
    const config: PipelineConfig = {
      landingDir: fixtureUrl(),
      s3: s3.options,
      exportDir: '/tmp',
      allowBadRows: 0,
    };
    const run = await runInProcess({
      database,
      graph,
      selection: selectAssets(graph, '* -group:market'),
      partitions: { from: '2025-09', to: '2026-10' },
      config,
    });
    expect(run.result.status).toBe('succeeded');
    await expectAnswers(database, '2026-10-01', expectedAnswers('expected-2026-10.json'));

    // The SHA-256 came out of the GET that loaded each object, and equals the local file's.
    const sources = await database.sql<{ name: string; fingerprint: string; sha256: string }[]>`
      select source->>'name' as name, source->>'fingerprint' as fingerprint, source->>'sha256' as sha256
      from materializations where asset_key = 'traffic' order by 1`;
    expect(sources).toHaveLength(14);
    for (const source of sources) expect(source.sha256).toBe(sha256(join(FIXTURE_LANDING, source.name)));
    // One listing gives the same fingerprints (size and ETag) the loads recorded: nothing stale.
    const observed = await monthlyLandingSource('traffic').observe(config);
    expect([...observed.values()].map(({ name, fingerprint }) => ({ name, fingerprint }))).toEqual(
      sources.map(({ name, fingerprint }) => ({ name, fingerprint })),
    );
    const status = await pipeline(database, ['status', '* -group:market', '--check']);
    expect(status.code, status.stdout + status.stderr).toBe(0);
  });
});

describe('the landing-zone sensor on a bucket', () => {
  let database: TestDatabase;
  const prefix = () => `s3://${s3.bucket}/sensor`;
  beforeAll(async () => {
    database = await createTestDatabase();
    await uploadFolder(s3.client, s3.bucket, 'sensor', FIXTURE_LANDING);
  });
  afterAll(() => database?.drop());

  it('starts one run for an object replaced in place (a new ETag), at once (objects appear whole), and none after', async () => {
    const here = { LANDING_DIR: prefix(), LANDING_SETTLE_SECONDS: '600' };
    const loaded = await pipeline(
      database,
      ['materialize', '* -group:market', '--from', '2025-09', '--to', '2026-10', '--in-process'],
      here,
    );
    expect(loaded.code, loaded.stderr).toBe(0);
    const quiet = await pipeline(database, ['sensor', '--once', '--in-process'], here);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stdout).toContain('no new or changed files (29 seen)');

    const text = readFileSync(join(FIXTURE_LANDING, 'traffic/2026-09.csv'), 'utf8');
    const edited = text.replace(
      /^([^\n]*\n[^\n]*,)([0-9.]+)(\r?\n)/,
      (_, head: string, revenue: string, end: string) => `${head}${(Number(revenue) + 1).toFixed(2)}${end}`,
    );
    expect(edited).not.toBe(text);
    await s3.client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: 'sensor/traffic/2026-09.csv', Body: edited }),
    );
    const tick = await pipeline(database, ['sensor', '--once', '--in-process'], here);
    expect(tick.code, tick.stdout + tick.stderr).toBe(0);
    expect(tick.stdout).toContain('1 new or changed file (traffic/2026-09.csv): run ');
    expect(tick.stdout).toMatch(/^ {2}changed {2}traffic\/2026-09\.csv$/m);
    expect(tick.stdout).toMatch(/^run [0-9a-f-]{36} succeeded: /m);
    const after = await pipeline(database, ['sensor', '--once', '--in-process'], here);
    expect(after.stdout).toContain('no new or changed files (29 seen)');
    const [runs] = await database.sql<
      { n: number }[]
    >`select count(*)::int as n from runs where trigger = 'sensor'`;
    expect(runs?.n).toBe(1);
  });
});

describe('two workers in empty folders, nothing shared but Redis, PostgreSQL and the bucket', () => {
  const prefix = `landing-s3-${randomUUID()}`;
  const folders = [0, 1, 2].map(() => mkdtempSync(join(tmpdir(), 'pipeline-s3-worker-')));
  const workers: CliChild[] = [];
  let database: TestDatabase;
  let env: Record<string, string | undefined>;
  beforeAll(async () => {
    database = await createTestDatabase();
    env = {
      ...s3.env(fixtureUrl()),
      DATABASE_URL: withDatabase(serverUrl(), database.name),
      REDIS_URL: redisUrl(),
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'info',
    };
    for (const cwd of folders.slice(0, 2))
      workers.push(startCli(['worker', '--concurrency', '2'], { env, cwd }));
    await Promise.all(workers.map((worker) => worker.waitForStdout(/worker ready/)));
  });
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    await deleteRedisKeys(redisUrl(), prefix);
    await database?.drop();
    for (const folder of folders) rmSync(folder, { recursive: true, force: true });
  });

  it('complete a 14-month backfill with the same answers as from local disk', async () => {
    const result = await runCli(['materialize', '* -group:market', '--from', '2025-09', '--to', '2026-10'], {
      env,
      cwd: folders[2],
      timeoutMs: 240_000,
    });
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    await expectAnswers(database, '2026-10-01', expectedAnswers('expected-2026-10.json'));
    // Both workers loaded landing files, and none of the three folders gained anything.
    for (const worker of workers)
      expect(worker.stdout()).toMatch(/traffic\[\d{4}-\d{2}\]|customer_snapshots\[/);
    for (const folder of folders) expect(readdirSync(folder)).toEqual([]);
  });
});

/** Every attempt of the database's runs at `asset`: status and error, oldest first. */
async function attempts(database: TestDatabase, asset: string) {
  return database.sql<{ status: string; error: string | null }[]>`
    select status, error from node_attempts where asset_key = ${asset} order by started_at, attempt`;
}

/** One line, naming what it should, with no key, secret or signature in it. */
function expectOneSafeLine(text: string | null | undefined, ...wanted: (string | RegExp)[]) {
  expect(text).toBeTruthy();
  const line = String(text);
  expect(line.trim().split('\n'), line).toHaveLength(1);
  for (const part of wanted) expect(line).toMatch(part);
  expect(line).not.toMatch(/S3RVER|WRONG-KEY|wrong-secret|Signature=|Credential=|AWS4-HMAC/);
}

describe('errors of the store, each one line without a secret', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database?.drop());

  /**
   * The failed attempts of `channels` run in a node (as a worker would) with `landingDir` and
   * `s3`, and the CLI's own answer to the same: it looks at the landing zone before it plans.
   */
  async function fail(landingDir: string, options: S3Options, env: Record<string, string | undefined> = {}) {
    await database.sql`delete from runs`;
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: S3RVER_KEY, AWS_SECRET_ACCESS_KEY: S3RVER_KEY, ...env });
    try {
      const run = await runInProcess({
        database,
        graph,
        selection: selectAssets(graph, 'channels'),
        config: { landingDir, s3: options, exportDir: '/tmp', allowBadRows: 0 },
      });
      expect(run.result.status).toBe('failed');
    } finally {
      process.env = saved;
    }
    const cli = await pipeline(database, ['materialize', 'channels', '--in-process'], {
      LANDING_DIR: landingDir,
      ...(options.endpoint ? { AWS_ENDPOINT_URL_S3: options.endpoint } : {}),
      ...env,
    });
    expect(cli.code, cli.stdout + cli.stderr).not.toBe(0);
    return { cli, attempts: await attempts(database, 'channels') };
  }

  it('a missing object is an input error naming its s3:// URL, not retried', async () => {
    const url = `s3://${s3.bucket}/empty`;
    const { cli, attempts } = await fail(url, s3.options);
    expect(attempts).toHaveLength(2); // one in the node, one by the CLI: neither retried
    const wanted = `channels.csv: file not found (expected at ${url}/channels.csv)`;
    expectOneSafeLine(attempts[0]?.error, wanted);
    expect(cli.stdout + cli.stderr).toContain(wanted);
  });

  it('no such bucket: a service error naming the bucket and endpoint, retried', async () => {
    const { cli, attempts } = await fail('s3://no-such-bucket/fixture', s3.options);
    expect(attempts.map((a) => a.status)).toEqual(['failed', 'failed', 'failed']);
    expectOneSafeLine(
      attempts[2]?.error,
      "s3://no-such-bucket/fixture/channels.csv: no such bucket 'no-such-bucket'",
      s3.endpoint,
    );
    expect(cli.code).toBe(3);
    expectOneSafeLine(cli.stderr, "no such bucket 'no-such-bucket'", s3.endpoint);
  });

  it('access denied (credentials the server does not know): named, retried, no key shown', async () => {
    const { cli, attempts } = await fail(`s3://${s3.bucket}/denied`, s3.options, {
      AWS_ACCESS_KEY_ID: 'WRONG-KEY-ID',
      AWS_SECRET_ACCESS_KEY: 'wrong-secret-key',
    });
    expect(attempts).toHaveLength(3);
    const wanted = `access denied to bucket '${s3.bucket}' at ${s3.endpoint} (InvalidAccessKeyId`;
    expectOneSafeLine(attempts[0]?.error, wanted);
    expect(cli.code).toBe(3);
    expectOneSafeLine(cli.stderr, wanted);
  });

  it('an unreachable endpoint: named with the bucket, retried', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const { cli, attempts } = await fail(`s3://${s3.bucket}/fixture`, { ...s3.options, endpoint: closed });
    expect(attempts).toHaveLength(3);
    const wanted = `cannot reach ${closed} for bucket '${s3.bucket}' (ECONNREFUSED)`;
    expectOneSafeLine(attempts[0]?.error, wanted);
    expect(cli.code).toBe(3);
    expectOneSafeLine(cli.stderr, wanted);
  });

  it('a connection broken mid-object fails the node, is retried, and loads nothing half', async () => {
    await database.sql`delete from runs`;
    const ready = await pipeline(database, [
      'materialize',
      'channels,customer_snapshots,customers',
      '--from',
      '2025-09',
      '--to',
      '2026-10',
      '--in-process',
    ]);
    expect(ready.code, ready.stdout + ready.stderr).toBe(0);
    const proxy = await startCuttingProxy(s3.endpoint, 4096);
    try {
      const through = { AWS_ENDPOINT_URL_S3: proxy.endpoint };
      const cut = await pipeline(
        database,
        ['materialize', 'traffic', '--partition', '2026-10', '--in-process'],
        through,
      );
      expect(cut.code, cut.stdout + cut.stderr).not.toBe(0);
      expect(proxy.cuts()).toBe(3);
      const tried = await attempts(database, 'traffic');
      expect(tried.map((a) => a.status)).toEqual(['failed', 'failed', 'failed']);
      expectOneSafeLine(
        tried[0]?.error,
        `s3://${s3.bucket}/fixture/traffic/2026-10.csv: the connection to ${proxy.endpoint} broke while reading`,
        // from the body's stream, not the request: the answer had begun
        / after \d+ of \d+ bytes\)$/,
      );
      const [rows] = await database.sql<{ n: number }[]>`select count(*)::int as n from traffic`;
      expect(rows?.n).toBe(0);

      // The network back: the same run, retried, loads the month whole.
      proxy.setCutting(false);
      const [run] = await database.sql<{ id: string }[]>`select id from runs where status = 'failed'`;
      const retried = await pipeline(database, ['retry', String(run?.id), '--in-process'], through);
      expect(retried.code, retried.stdout + retried.stderr).toBe(0);
      const lines = readFileSync(join(FIXTURE_LANDING, 'traffic/2026-10.csv'), 'utf8').trim().split('\n');
      const [loaded] = await database.sql<{ n: number }[]>`select count(*)::int as n from traffic`;
      expect(loaded?.n).toBe(lines.length - 1);
    } finally {
      await proxy.close();
    }
  });
});

/**
 * A large object, generated on the fly by a streaming (multipart) upload and never stored in the
 * repository, loaded by the CLI with its peak RSS measured. S3_BIG_OBJECT_MB sets its size: 1 GB
 * in CI (about 2 minutes), 200 MB elsewhere to keep a developer's run short (docs/ingest.md).
 */
const BIG_MB = Number(process.env.S3_BIG_OBJECT_MB ?? (process.env.CI ? 1024 : 200));
const BIG_CHANNELS = [1, 2, 3, 4, 5, 6, 7, 8];

/** `customers` customers for 2026-10, each with its own account. */
function bigCustomers(customers: number): string {
  const rows = ['customer_id,account_id,customer_name,segment,industry,country,created_date'];
  for (let id = 1; id <= customers; id++)
    rows.push(`${id},${100_000 + id},Customer ${id},SMB,Retail,Germany,2020-01-01`);
  return `${rows.join('\n')}\n`;
}

/**
 * Valid, distinct traffic rows of 2026-10, customer × day × channel, until at least `bytes`;
 * `customers()` tells how many customers they needed once the stream has ended.
 */
function bigTraffic(bytes: number): { stream: Readable; customers: () => number } {
  let sent = 0;
  let customers = 0;
  async function* rows() {
    const header = 'send_date,account_id,customer_id,channel_id,interactions_count,revenue_eur\n';
    sent += header.length;
    yield header;
    while (sent < bytes) {
      customers += 1;
      let chunk = '';
      for (let day = 1; day <= 31; day++) {
        const date = `2026-10-${String(day).padStart(2, '0')}`;
        for (const channel of BIG_CHANNELS) {
          chunk += `${date},${100_000 + customers},${customers},${channel},${day + channel},${day}.${channel}0\n`;
        }
      }
      sent += chunk.length;
      yield chunk;
    }
  }
  return { stream: Readable.from(rows()), customers: () => customers };
}

describe(`a ${BIG_MB} MB object streamed with bounded memory`, () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database?.drop());

  it('loads through the CLI with peak RSS under 200 MB', { timeout: 600_000 }, async () => {
    const prefix = 'big';
    const big = bigTraffic(BIG_MB * 1024 * 1024);
    await new Upload({
      client: s3.client,
      params: { Bucket: s3.bucket, Key: `${prefix}/traffic/2026-10.csv`, Body: big.stream },
      partSize: 16 * 1024 * 1024,
      queueSize: 2,
    }).done();
    const customers = big.customers();
    await s3.client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: `${prefix}/customers/2026-10.csv`,
        Body: bigCustomers(customers),
      }),
    );
    await s3.client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: `${prefix}/channels.csv`,
        Body: readFileSync(join(FIXTURE_LANDING, 'channels.csv')),
      }),
    );
    const env = { LANDING_DIR: `s3://${s3.bucket}/${prefix}` };
    const upstream = await pipeline(
      database,
      ['materialize', 'channels,customer_snapshots,customers', '--partition', '2026-10', '--in-process'],
      env,
    );
    expect(upstream.code, upstream.stdout + upstream.stderr).toBe(0);
    const load = await pipeline(
      database,
      ['materialize', 'traffic', '--partition', '2026-10', '--in-process'],
      env,
      {
        timeoutMs: 540_000,
        measureMemory: true,
      },
    );
    expect(load.code, load.stdout + load.stderr).toBe(0);
    const [loaded] = await database.sql<{ n: number; bytes: number; path: string }[]>`
      select (metadata->>'rowsLoaded')::int as n, (metadata->>'bytes')::bigint as bytes, metadata->>'path' as path
      from materializations where asset_key = 'traffic'`;
    expect(loaded?.path).toBe('copy');
    expect(loaded?.n).toBe(customers * 31 * BIG_CHANNELS.length);
    expect(Number(loaded?.bytes)).toBeGreaterThan(BIG_MB * 1024 * 1024);
    console.log(`${BIG_MB} MB object: ${loaded?.n} rows, loader peak RSS ${load.peakRssMb?.toFixed(0)} MB`);
    expect(load.peakRssMb).toBeLessThan(200);
  });
});
