import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './cli.ts';
import { freePort, waitFor } from './processes.ts';

/** Azurite's well-known development account key (public, in Microsoft's documentation). */
export const DEV_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export type Azurite = {
  /** The dev account's connection string for this instance's port. */
  connectionString: string;
  blobEndpoint: string;
  /** Resolves once the blob service answers (Azurite takes a few seconds to boot). */
  ready: Promise<void>;
  stop: () => Promise<void>;
};

/**
 * Starts Azurite's blob service (npm `azurite`) on 127.0.0.1 and a free port, storing into a
 * temporary folder of its own. Returns at once: await `ready` before using it, so the boot can
 * overlap with other set-up.
 */
export async function startAzurite(): Promise<Azurite> {
  const port = await freePort();
  const location = mkdtempSync(join(tmpdir(), 'azurite-'));
  const child = spawn(
    join(REPO_ROOT, 'node_modules/.bin/azurite-blob'),
    [
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(port),
      '--location',
      location,
      '--silent',
      '--skipApiVersionCheck',
      '--loose',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = once(child, 'exit');
  const blobEndpoint = `http://127.0.0.1:${port}/devstoreaccount1`;
  const connectionString = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${DEV_ACCOUNT_KEY};BlobEndpoint=${blobEndpoint};`;
  const ready = waitFor(
    'Azurite to answer',
    async () => {
      if (child.exitCode !== null) throw new Error(`azurite exited with ${child.exitCode}: ${stderr}`);
      // Plain fetch: the SDK would retry a refused connection for seconds on its own. Any answer
      // (an authorization error included) means the service is up.
      await fetch(`${blobEndpoint}?comp=list`);
      return true;
    },
    { timeoutMs: 30_000, intervalMs: 100, detail: () => stderr },
  ).then(() => undefined);
  ready.catch(() => {}); // awaited by the test; never an unhandled rejection in between
  return {
    connectionString,
    blobEndpoint,
    ready,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(location, { recursive: true, force: true });
    },
  };
}
