import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PART_SIZE } from '../../data-generation/s3-output.ts';
import { runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { hashTree } from '../support/landing.ts';
import { freePort } from '../support/processes.ts';
import { redisUrl, serverUrl, withDatabase } from '../support/urls.ts';

// A real S3 API (s3rver, on a free port) in this process: its requests can be counted, which is
// how the multipart test knows the object really went up in parts.
type Context = { method: string; path: string; query: Record<string, string | undefined> };
type S3rverServer = {
  middleware: ((ctx: Context, next: () => Promise<void>) => Promise<void>)[];
  run(): Promise<unknown>;
  close(): Promise<void>;
  httpServer?: Server;
};
type S3rverClass = new (options: Record<string, unknown>) => S3rverServer;
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;

const BUCKET = 'landing';
const SMALL = ['--customers', '120', '--months', '3', '--end', '2026-10'];

const scratch = mkdtempSync(join(tmpdir(), 'pipeline-generate-s3-'));
let server: S3rverServer;
let endpoint: string;
let client: S3Client;
/** UploadPart requests seen, by object key. */
const partsByKey = new Map<string, number>();

beforeAll(async () => {
  const port = await freePort();
  mkdirSync(join(scratch, 's3'));
  server = new S3rver({
    address: '127.0.0.1',
    port,
    silent: true,
    directory: join(scratch, 's3'),
    configureBuckets: [{ name: BUCKET }],
  });
  // First in the chain, before s3rver's own router: sees every request as sent.
  server.middleware.unshift(async (ctx, next) => {
    if (ctx.method === 'PUT' && ctx.query.partNumber !== undefined && ctx.query.uploadId !== undefined) {
      const key = decodeURIComponent(ctx.path.replace(`/${BUCKET}/`, ''));
      partsByKey.set(key, (partsByKey.get(key) ?? 0) + 1);
    }
    await next();
  });
  await server.run();
  endpoint = `http://127.0.0.1:${port}`;
  client = new S3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
});

afterAll(async () => {
  client?.destroy();
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** The environment a worker pointed at this store would have (s3rver's fixed credentials). */
function s3Env(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_S3: endpoint,
    S3_FORCE_PATH_STYLE: '1',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    ...overrides,
  };
}

/** sha256 of every object under the prefix, by its name in the landing zone. */
async function hashObjects(prefix: string): Promise<Record<string, string>> {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/` }));
  const hashes: Record<string, string> = {};
  for (const { Key } of listed.Contents ?? []) {
    const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key }));
    const bytes = await object.Body?.transformToByteArray();
    hashes[(Key ?? '').slice(prefix.length + 1)] = createHash('sha256')
      .update(bytes ?? new Uint8Array())
      .digest('hex');
  }
  return hashes;
}

function expectOneCleanLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
  expect(stderr).not.toContain('S3RVER'); // neither key id nor secret
  return lines[0] ?? '';
}

describe('pipeline generate --out s3://bucket/prefix', () => {
  it('uploads the same bytes as --out DIR writes for the same arguments', async () => {
    const local = await runCli(['generate', '--out', join(scratch, 'local'), ...SMALL]);
    expect(local.code).toBe(0);
    const uploaded = await runCli(['generate', '--out', `s3://${BUCKET}/drops/small`, ...SMALL], {
      env: s3Env(),
    });
    expect(uploaded.stderr).toBe('');
    expect(uploaded.code).toBe(0);
    expect(uploaded.stdout).toMatch(/^wrote 7 files, .* to s3:\/\/landing\/drops\/small\n$/);
    const expected = hashTree(join(scratch, 'local'));
    expect(Object.keys(expected)).toHaveLength(7);
    expect(await hashObjects('drops/small')).toEqual(expected);
  });

  it('sends a file larger than a part as a multipart upload, byte-identical', async () => {
    // 4 000 customers make a month of traffic of ~6.2 MB: more than one 5 MiB part.
    const args = ['--customers', '4000', '--months', '1', '--end', '2026-10'];
    const local = await runCli(['generate', '--out', join(scratch, 'large'), ...args]);
    expect(local.code).toBe(0);
    const uploaded = await runCli(['generate', '--out', `s3://${BUCKET}/large`, ...args], { env: s3Env() });
    expect(uploaded.stderr).toBe('');
    expect(uploaded.code).toBe(0);
    const size = statSync(join(scratch, 'large', 'traffic', '2026-10.csv')).size;
    expect(size).toBeGreaterThan(PART_SIZE);
    expect(partsByKey.get('large/traffic/2026-10.csv')).toBe(Math.ceil(size / PART_SIZE));
    expect(partsByKey.get('large/customers/2026-10.csv')).toBeUndefined(); // small: one PUT
    expect(await hashObjects('large')).toEqual(hashTree(join(scratch, 'large')));
  }, 120_000);

  it('replaces an earlier drop under the prefix, and refuses a prefix that holds other objects', async () => {
    const again = await runCli(
      [
        'generate',
        '--out',
        `s3://${BUCKET}/drops/small`,
        '--customers',
        '20',
        '--months',
        '1',
        '--end',
        '2026-10',
      ],
      { env: s3Env() },
    );
    expect(again.code).toBe(0);
    expect(Object.keys(await hashObjects('drops/small')).sort()).toEqual([
      'channels.csv',
      'customers/2026-10.csv',
      'traffic/2026-10.csv',
    ]);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'project/notes.txt', Body: 'keep me' }));
    const refused = await runCli(['generate', '--out', `s3://${BUCKET}/project`, ...SMALL], { env: s3Env() });
    expect(refused.code).toBe(2);
    expect(expectOneCleanLine(refused.stderr)).toContain(
      's3://landing/project/ is not empty and not a landing zone (it holds notes.txt)',
    );
  });

  it('says in one line that the bucket does not exist, naming it and the endpoint', async () => {
    const result = await runCli(['generate', '--out', 's3://no-such-bucket/x', ...SMALL], { env: s3Env() });
    expect(result.code).toBe(3);
    expect(expectOneCleanLine(result.stderr)).toContain(
      `s3://no-such-bucket/x/: no such bucket 'no-such-bucket' at ${endpoint}`,
    );
  });

  it('says in one line that access was denied, without the key', async () => {
    const result = await runCli(['generate', '--out', `s3://${BUCKET}/denied`, ...SMALL], {
      env: s3Env({ AWS_ACCESS_KEY_ID: 'WRONG-KEY-ID', AWS_SECRET_ACCESS_KEY: 'wrong-secret-value' }),
    });
    expect(result.code).toBe(3);
    const line = expectOneCleanLine(result.stderr);
    expect(line).toContain(`access denied to bucket 'landing' at ${endpoint}`);
    expect(line).not.toMatch(/WRONG-KEY-ID|wrong-secret-value/);
  });

  it('says in one line that the endpoint is unreachable (a closed port)', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const result = await runCli(['generate', '--out', `s3://${BUCKET}/x`, ...SMALL], {
      env: s3Env({ AWS_ENDPOINT_URL_S3: closed }),
    });
    expect(result.code).toBe(3);
    expect(expectOneCleanLine(result.stderr)).toContain(
      `cannot reach ${closed} for bucket 'landing' (ECONNREFUSED)`,
    );
  });

  it('rejects a malformed s3:// URL with exit 2', async () => {
    const result = await runCli(['generate', '--out', 's3://A_B/x', ...SMALL], { env: s3Env() });
    expect(result.code).toBe(2);
    expect(expectOneCleanLine(result.stderr)).toContain(
      "--out 's3://A_B/x' is not an s3://BUCKET/PREFIX URL",
    );
  });
});

describe('pipeline doctor with LANDING_DIR=s3://bucket/prefix', () => {
  // doctor checks PostgreSQL and Redis first: a database of this file's own.
  let database: TestDatabase;
  let services: Record<string, string>;
  beforeAll(async () => {
    database = await createTestDatabase();
    services = { DATABASE_URL: withDatabase(serverUrl(), database.name), REDIS_URL: redisUrl() };
  });
  afterAll(() => database?.drop());

  it('reports a bucket that answers, and whether the prefix holds anything', async () => {
    // One object, not more: s3rver cannot make a continuation token under OpenSSL 3 (DES), so a
    // listing cut short by MaxKeys fails there (500) — real S3 and MinIO have no such limit.
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'doctor/one/channels.csv', Body: 'x' }));
    for (const [prefix, seen] of [
      ['doctor/one', 'objects under the prefix'],
      ['doctor/empty', 'nothing under the prefix yet'],
    ]) {
      const result = await runCli(['doctor'], {
        env: { ...services, ...s3Env(), LANDING_DIR: `s3://${BUCKET}/${prefix}` },
      });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(
        `landing  ok  s3://landing/${prefix} (bucket 'landing' at ${endpoint} answers; ${seen})`,
      );
    }
  });

  it('names an unreachable endpoint in one line, exit 3', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const result = await runCli(['doctor'], {
      env: { ...services, ...s3Env({ AWS_ENDPOINT_URL_S3: closed }), LANDING_DIR: `s3://${BUCKET}/drops` },
    });
    expect(result.code).toBe(3);
    expect(expectOneCleanLine(result.stderr)).toContain(
      `cannot reach ${closed} for bucket 'landing' (ECONNREFUSED)`,
    );
    expect(result.stdout).toMatch(/redis +ok/);
  });

  it('names a missing bucket in one line, exit 3', async () => {
    const result = await runCli(['doctor'], {
      env: { ...services, ...s3Env(), LANDING_DIR: 's3://no-such-bucket/drops' },
    });
    expect(result.code).toBe(3);
    expect(expectOneCleanLine(result.stderr)).toContain(`no such bucket 'no-such-bucket' at ${endpoint}`);
  });
});
