import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from './cli.ts';

export type RepoCopy = {
  /** A private folder (mode 700), like a home: the checkout is in it, and npm's cache. */
  home: string;
  /** The checkout. */
  dir: string;
  /**
   * The environment for commands run in the checkout: npm's own variables from an outer npm (as
   * under `npm test`: npm_config_local_prefix and the like) removed, so npm finds this checkout's
   * package.json, and a cache of its own, so npx leaves nothing behind.
   */
  env: Record<string, string | undefined>;
  remove: () => void;
};

/**
 * A clone of this working tree as a user's checkout after `npm ci`: every file git tracks or would
 * track (none it ignores: no data/, no .data/), in `app/` of a fresh folder of mode 700 under the
 * system temp directory, with node_modules as hard links (a second, private node_modules in under
 * a second; a symlink would leave the packages where they are). The caller removes it.
 */
export function copyRepo(prefix: string): RepoCopy {
  const home = mkdtempSync(join(tmpdir(), prefix));
  const dir = join(home, 'app');
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  for (const file of files.split('\0').filter(Boolean)) {
    const source = join(REPO_ROOT, file);
    if (!existsSync(source)) continue; // deleted in the working tree
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    copyFileSync(source, join(dir, file)); // keeps the mode: bin/pipeline.js stays executable
  }
  const modules = join(REPO_ROOT, 'node_modules');
  if (spawnSync('cp', ['-al', modules, dir]).status !== 0) {
    rmSync(join(dir, 'node_modules'), { recursive: true, force: true });
    execFileSync('cp', ['-a', modules, dir]); // another filesystem: a real copy
  }
  const env: Record<string, string | undefined> = {};
  for (const key of Object.keys(process.env)) {
    if (/^npm_/i.test(key) || key === 'INIT_CWD') env[key] = undefined;
  }
  env.npm_config_cache = join(home, '.npm');
  return { home, dir, env, remove: () => rmSync(home, { recursive: true, force: true }) };
}
