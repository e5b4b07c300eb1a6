import type { Stats } from 'node:fs';
import { lstat, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';

/**
 * What a landing file is, looked at without opening it:
 * - `file`: a regular file inside the landing zone; `path` is where it really is (links
 *   resolved), `info` its stat;
 * - `outside`: it resolves (through a symbolic link, of its own or of a folder) to somewhere
 *   outside the landing zone; `info` is the link's own lstat — nothing of the target is read;
 * - `missing`: no such file, a dangling link, or not a regular file.
 */
export type LandingEntry =
  | { kind: 'file'; path: string; info: Stats }
  | { kind: 'outside'; info: Stats }
  | { kind: 'missing' };

/**
 * Looks at landing files relative to one landing zone: a link that points outside it is refused
 * before anything opens it, so a landing zone cannot make a load read (and quote in its errors)
 * another file of this machine. A link within the zone is followed.
 */
export function landingZone(landingDir: string): (relative: string) => Promise<LandingEntry> {
  let root: Promise<string | undefined> | undefined;
  return async (relative) => {
    const path = join(landingDir, relative);
    const own = await lstat(path).catch(() => undefined);
    root ??= realpath(landingDir).catch(() => undefined);
    const [zone, real] = await Promise.all([root, own ? realpath(path).catch(() => undefined) : undefined]);
    if (!own || !zone || !real) return { kind: 'missing' };
    if (real !== zone && !real.startsWith(zone.endsWith(sep) ? zone : zone + sep)) {
      return { kind: 'outside', info: own };
    }
    const info = own.isSymbolicLink() ? await stat(real).catch(() => undefined) : own;
    return info?.isFile() ? { kind: 'file', path: real, info } : { kind: 'missing' };
  };
}
