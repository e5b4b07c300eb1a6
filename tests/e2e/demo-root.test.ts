import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess } from '../support/cli.ts';
import { freePort, waitFor } from '../support/processes.ts';
import { copyRepo, type RepoCopy } from '../support/repo-copy.ts';

// The quick start as many CI jobs and containers run it: as root, in a checkout inside a folder
// nobody else may enter (root's home is usually mode 700). PostgreSQL refuses to run as root, so
// the demo runs it as the `postgres` user, which cannot reach that folder.
const asRoot = process.getuid?.() === 0;
if (!asRoot) {
  console.warn(
    'demo-root.test.ts skipped: it needs to run as root (the case it covers is root in a private folder)',
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!asRoot)('npm run demo as root in a folder of mode 700', () => {
  let repo: RepoCopy;
  const dataDirs = new Set<string>();
  beforeAll(() => {
    repo = copyRepo('pipeline-demo-root-');
  });
  afterAll(() => {
    repo?.remove();
    // The server's files outside the checkout (TMPDIR/pipeline-demo-<hash>), this copy's alone.
    for (const dir of dataDirs) {
      const base = dirname(dir);
      if (/^pipeline-demo-[0-9a-f]{12}$/.test(basename(base))) rmSync(base, { recursive: true, force: true });
    }
  });

  /** `npm run demo` until its dashboard answers, then Ctrl-C: what it printed and where its data is. */
  async function demo(): Promise<{ stdout: string; dataDir: string }> {
    const port = await freePort();
    // A small landing zone (hidden flags) keeps this under a minute; everything else as the quick start.
    const child = startProcess(
      'npm',
      ['run', 'demo', '--', '--port', String(port), '--customers', '60', '--months', '3'],
      {
        cwd: repo.dir,
        env: { ...repo.env, DATABASE_URL: undefined, REDIS_URL: undefined, LOG_LEVEL: undefined },
        group: true,
      },
    );
    try {
      const [, dataDir = ''] = await child.waitForStdout(/\(embedded, data in (\S+)\)/, 60_000);
      dataDirs.add(dataDir);
      const [, url = ''] = await child.waitForStdout(/dashboard: (http:\/\/\S+)/, 150_000);
      const response = await waitFor('the dashboard', async () => {
        const answer = await fetch(url);
        return answer.status === 200 && answer;
      });
      expect(await response.text()).toContain('</html>');
      const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      expect(alive(pid)).toBe(true);
      child.signal('SIGINT'); // Ctrl-C in the terminal: the whole foreground group
      await child.exited;
      expect(child.stderr()).not.toMatch(/\n\s+at |Error:/);
      // The demo stopped its server cleanly: the process is gone and took its lock file with it.
      await waitFor('the embedded server to stop', () => !alive(pid), { timeoutMs: 10_000 });
      expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false);
      return { stdout: child.stdout(), dataDir };
    } finally {
      await child.stop(5_000);
    }
  }

  it('serves the dashboard, stops its server on Ctrl-C and finds its data again the next time', async () => {
    expect(statSync(repo.home).mode & 0o777).toBe(0o700);
    const first = await demo();
    expect(first.stdout).toMatch(/3\/4 materializing the \d+ missing or stale nodes/);
    // Where the postgres user can reach it, owned by that user, mode 700.
    expect(first.dataDir.startsWith(repo.home)).toBe(false);
    const base = statSync(dirname(first.dataDir));
    expect(base.mode & 0o777).toBe(0o700);
    expect(base.uid).not.toBe(0);

    const second = await demo();
    expect(second.dataDir).toBe(first.dataDir);
    expect(second.stdout).toContain('nothing to materialize');
    expect(second.stdout).toContain('4/4 the answers for');
  }, 300_000);

  it('says in one line what to do when the postgres user cannot reach TMPDIR either', async () => {
    const privateTmp = join(repo.home, 'tmp'); // inside the folder of mode 700
    mkdirSync(privateTmp);
    const child = startProcess('node', ['bin/pipeline.js', 'demo', '--embedded', '--port', '1'], {
      cwd: repo.dir,
      env: { ...repo.env, DATABASE_URL: undefined, TMPDIR: privateTmp },
    });
    const { code } = await child.exited;
    expect(code).toBe(1);
    const lines = child.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^pipeline: the postgres user cannot run PostgreSQL from .*: set TMPDIR to a folder every user can enter, or set DATABASE_URL/,
    );
  });
});
