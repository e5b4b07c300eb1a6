import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Options } from '../../assets/landing/s3-client.ts';
import { REPO_ROOT } from './cli.ts';
import { freePort, waitFor } from './processes.ts';

/** s3rver's fixed development credentials (it refuses any other key: InvalidAccessKeyId). */
export const S3RVER_KEY = 'S3RVER';

export type S3Server = {
  endpoint: string;
  port: number;
  bucket: string;
  /** How the pipeline reaches it (the CLI gets the same through `env`). */
  options: S3Options;
  /** The variables a `pipeline` process needs to use this server, with `landing` as LANDING_DIR. */
  env: (landing: string, endpoint?: string) => Record<string, string | undefined>;
  /** A client of the test's own, with the server's credentials. */
  client: S3Client;
  stop: () => Promise<void>;
};

/**
 * Starts s3rver (npm, a real S3-compatible server storing into a temporary folder) as a child
 * process on 127.0.0.1 and a free port, with `bucket` created. Its own process, so its CPU is not
 * the test's (or the benchmark's).
 */
export async function startS3rver(bucket = 'landing'): Promise<S3Server> {
  // As createS3Client does: the SDK's Node 22 notice is not this test's output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const port = await freePort();
  const directory = mkdtempSync(join(tmpdir(), 's3rver-'));
  const child = spawn(
    join(REPO_ROOT, 'node_modules/.bin/s3rver'),
    ['-d', directory, '-a', '127.0.0.1', '-p', String(port), '--silent', '--configure-bucket', bucket],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = once(child, 'exit');
  const endpoint = `http://127.0.0.1:${port}`;
  await waitFor(
    's3rver to answer',
    async () => {
      if (child.exitCode !== null) throw new Error(`s3rver exited with ${child.exitCode}: ${stderr}`);
      await fetch(endpoint); // any answer (an authorization error included) means it is up
      return true;
    },
    { timeoutMs: 30_000, intervalMs: 100, detail: () => stderr },
  );
  const options: S3Options = { endpoint, forcePathStyle: true, region: 'us-east-1' };
  return {
    endpoint,
    port,
    bucket,
    options,
    env: (landing, through = endpoint) => ({
      LANDING_DIR: landing,
      AWS_ENDPOINT_URL_S3: through,
      S3_FORCE_PATH_STYLE: '1',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: S3RVER_KEY,
      AWS_SECRET_ACCESS_KEY: S3RVER_KEY,
      // No profile of this machine's may change what the SDK does.
      AWS_PROFILE: undefined,
      AWS_CONFIG_FILE: join(directory, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(directory, 'no-aws-credentials'),
    }),
    client: new S3Client({
      ...options,
      credentials: { accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Uploads every file under `folder` to `bucket` under `prefix`, keeping their relative names. */
export async function uploadFolder(client: S3Client, bucket: string, prefix: string, folder: string) {
  const files = (readdirSync(folder, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
  for (const file of files) {
    const key = `${prefix}/${relative(folder, file)}`;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: createReadStream(file) }));
  }
}

export type CuttingProxy = {
  endpoint: string;
  /** Object GETs whose connection was cut so far. */
  cuts: () => number;
  /** While false, everything passes through whole. */
  setCutting: (on: boolean) => void;
  close: () => Promise<void>;
};

/**
 * An HTTP proxy in front of S3 that passes every request on unchanged (Host included, so the
 * signature holds) and, while cutting, sends only the first `afterBytes` of each object's body —
 * after its full Content-Length — then destroys the connection: a network that breaks mid-object.
 */
export async function startCuttingProxy(target: string, afterBytes: number): Promise<CuttingProxy> {
  const upstream = new URL(target);
  let cutting = true;
  let cuts = 0;
  const server = createServer((incoming, outgoing) => {
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        // An object GET (the SDK adds `?x-id=GetObject`), not a listing (`?list-type=2`).
        const objectGet =
          incoming.method === 'GET' &&
          /[?&]x-id=GetObject\b/.test(incoming.url ?? '') &&
          answer.statusCode === 200;
        if (!cutting || !objectGet) {
          answer.pipe(outgoing);
          return;
        }
        let sent = 0;
        answer.on('data', (chunk: Buffer) => {
          if (sent >= afterBytes) return;
          const part = chunk.subarray(0, afterBytes - sent);
          sent += part.length;
          outgoing.write(part);
          if (sent >= afterBytes) {
            cuts += 1;
            answer.destroy();
            // After a moment, so the client has the answer's head and first bytes: mid-body.
            setTimeout(() => outgoing.socket?.destroy(), 200);
          }
        });
      },
    );
    forward.on('error', () => outgoing.socket?.destroy());
    incoming.pipe(forward);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    cuts: () => cuts,
    setCutting: (on) => {
      cutting = on;
    },
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
