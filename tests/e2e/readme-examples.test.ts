import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliChild, REPO_ROOT, startProcess } from '../support/cli.ts';
import { cloneDatabase, dropDatabase, uniqueDatabaseName } from '../support/database.ts';
import { deleteRedisKeys, freePort, waitFor } from '../support/processes.ts';
import { copyRepo, type RepoCopy } from '../support/repo-copy.ts';
import { redisUrl, serverUrl, withDatabase } from '../support/urls.ts';

// Every ```sh block of the README and of docs/*.md runs here as written, in a checkout of its own
// — as a reader would after `npm ci`, with `npx pipeline` resolving to this repository's bin —
// against the local PostgreSQL and Redis (a queue prefix of its own). The README's blocks run
// first, in order, on a database of their own (its `npx pipeline migrate` creates it); each page
// of docs/ then runs its blocks, in order, on its own copy of what the README left, as a reader
// who did the quick start and then opened that page. A block runs unless a rule of SKIPPED says
// why not; each command must exit 0.

type Block = { where: string; commands: string[] };

const DOCUMENTS = [
  'README.md',
  ...readdirSync(join(REPO_ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];

/** The shell blocks of a Markdown file: one command a line (`\` continues it), comments and blanks dropped. */
function shellBlocks(file: string): Block[] {
  const blocks: Block[] = [];
  let current: Block | undefined;
  let pending = '';
  readFileSync(join(REPO_ROOT, file), 'utf8')
    .split('\n')
    .forEach((line, index) => {
      if (current === undefined) {
        if (/^```(sh|bash|shell)\s*$/.test(line)) current = { where: `${file}:${index + 1}`, commands: [] };
      } else if (/^```\s*$/.test(line)) {
        blocks.push(current);
        current = undefined;
      } else if (line.endsWith('\\')) {
        pending += `${line.slice(0, -1)} `;
      } else {
        const command = `${pending}${line}`.trim();
        pending = '';
        if (command !== '' && !command.startsWith('#')) current.commands.push(command);
      }
    });
  return blocks;
}

/** The blocks not run here, and why. Anything else runs: a new example is tested by default. */
const SKIPPED: { why: string; matches: (command: string) => boolean }[] = [
  {
    why: 'needs a Docker engine, and none runs here (.ci/run validates docker-compose.yml where a compose client exists)',
    matches: (command) => /\bdocker\b/.test(command),
  },
  {
    why: 'needs Alpha Vantage or Azure, services outside this machine (the market tests use a fake Alpha Vantage and Azurite)',
    matches: (command) => /\b(ALPHA_VANTAGE_API_KEY|AZURE_STORAGE_CONNECTION_STRING)=/.test(command),
  },
  { why: 'is this test suite: it would run itself', matches: (command) => /^npm test\b/.test(command) },
  {
    why: 'reinstalls node_modules (here hard links shared with the repository); the demo it starts is tests/e2e/demo-root.test.ts',
    matches: (command) => /^npm ci\b/.test(command),
  },
];

/** Commands that serve until stopped: started, checked once ready, stopped (SIGTERM) when their block is done. */
const SERVERS: {
  matches: RegExp;
  ready: RegExp;
  check?: (ready: RegExpMatchArray, command: string) => Promise<void>;
  stopped?: RegExp;
}[] = [
  { matches: /\bpipeline worker\b/, ready: /^worker ready: /m, stopped: /^worker stopped$/m },
  {
    matches: /\bpipeline dashboard\b/,
    ready: /^dashboard on http:\/\/\S+:(\d+) — (.*)$/m,
    check: dashboardAnswers,
  },
];

/** The dashboard's home page answers; with basic auth, only to the user and password the command set. */
async function dashboardAnswers(ready: RegExpMatchArray, command: string): Promise<void> {
  const url = `http://127.0.0.1:${ready[1]}/`;
  if (!ready[2]?.startsWith('basic auth')) {
    expect((await fetch(url)).status).toBe(200);
    return;
  }
  expect((await fetch(url)).status).toBe(401);
  const user = command.match(/\bDASHBOARD_USER=(\S+)/)?.[1] ?? '';
  const password = command.match(/\bDASHBOARD_PASSWORD=(\S+)/)?.[1] ?? '';
  const authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  expect((await fetch(url, { headers: { authorization } })).status).toBe(200);
}

/** What a reader fills in for a `…` placeholder (`NAME=…`). */
const PLACEHOLDERS: Record<string, string> = { DASHBOARD_PASSWORD: 'a-readme-example-password' };

/**
 * The command as run here: placeholders filled in, and any `--port N` on a free port instead (a
 * fixed port may be taken on this machine; `DASHBOARD_PORT` is set to a free one the same way).
 */
async function asRunHere(command: string): Promise<string> {
  let prepared = command.replace(/\b([A-Z_]+)=…/g, (whole, name: string) => {
    const value = PLACEHOLDERS[name];
    if (value === undefined)
      throw new Error(`no value for the placeholder ${whole}: add one to PLACEHOLDERS`);
    return `${name}=${value}`;
  });
  for (const [flag] of prepared.matchAll(/--port \d+/g)) {
    prepared = prepared.replace(flag, `--port ${await freePort()}`);
  }
  return prepared;
}

const BLOCKS = new Map(DOCUMENTS.map((file) => [file, shellBlocks(file)]));
const ALL_BLOCKS = [...BLOCKS.values()].flat();
const skipOf = (block: Block) => SKIPPED.find((rule) => block.commands.some(rule.matches));

let repo: RepoCopy;
let env: Record<string, string | undefined>;
const readmeDatabase = uniqueDatabaseName('pipeline_readme');
const databases = [readmeDatabase];
const queuePrefix = `readme-${process.pid}-${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  repo = copyRepo('pipeline-readme-');
  env = { ...repo.env };
  // None of this machine's settings: only what the examples say, and the services to use.
  for (const key of Object.keys(process.env)) {
    if (/^(DATABASE_URL|REDIS_URL|LANDING_DIR|EXPORT_DIR|QUEUE_PREFIX|LOG_LEVEL)$/.test(key))
      env[key] = undefined;
    if (/^(PIPELINE|ALPHA_VANTAGE|STOCK|AZURE|DASHBOARD)_/.test(key)) env[key] = undefined;
  }
  Object.assign(env, {
    DATABASE_URL: withDatabase(serverUrl(), readmeDatabase),
    REDIS_URL: redisUrl(),
    QUEUE_PREFIX: queuePrefix,
    DASHBOARD_PORT: String(await freePort()),
  });
});

afterAll(async () => {
  for (const name of databases) await dropDatabase(name);
  await deleteRedisKeys(redisUrl(), queuePrefix);
  repo?.remove();
});

describe('the shell examples of README.md and docs/*.md', () => {
  it('has blocks to run, and every skip rule still matches one', () => {
    expect(ALL_BLOCKS.filter((block) => !skipOf(block)).length).toBeGreaterThan(0);
    for (const rule of SKIPPED) {
      expect(
        ALL_BLOCKS.some((block) => block.commands.some(rule.matches)),
        `a skip rule matches no block any more, remove it: ${rule.why}`,
      ).toBe(true);
    }
  });

  for (const [file, blocks] of BLOCKS) {
    if (blocks.length === 0) continue;
    describe(file, () => {
      // A page whose every block is skipped needs no database.
      if (file !== 'README.md' && blocks.some((block) => !skipOf(block))) {
        beforeAll(async () => {
          const name = `${readmeDatabase}_${databases.length}`;
          databases.push(name);
          await cloneDatabase(readmeDatabase, name);
          env.DATABASE_URL = withDatabase(serverUrl(), name);
        });
      }
      for (const block of blocks) runsAsWritten(block);
    });
  }
});

function runsAsWritten(block: Block): void {
  const skip = skipOf(block);
  // The title without the commands' trailing comments.
  const title = `${block.where}: ${block.commands.map((command) => command.replace(/\s+#\s.*$/, '')).join(' && ')}`;
  if (skip) {
    it.skip(`${title} (skipped: it ${skip.why})`, () => {});
    return;
  }
  it(title, async () => {
    const servers: { child: CliChild; stopped?: RegExp }[] = [];
    try {
      for (const written of block.commands) {
        const command = await asRunHere(written);
        const child = startProcess('bash', ['-c', command], { cwd: repo.dir, env, group: true });
        const server = SERVERS.find((candidate) => candidate.matches.test(command));
        if (server) {
          servers.push({ child, stopped: server.stopped });
          const ready = await child.waitForStdout(server.ready, 60_000);
          const answers = async () => {
            await server.check?.(ready, command);
            return true;
          };
          await waitFor(`${command} to answer`, answers, { timeoutMs: 10_000 });
          continue;
        }
        const timer = setTimeout(() => child.signal('SIGKILL'), 150_000);
        const { code } = await child.exited;
        clearTimeout(timer);
        expect(code, `${command}\nstdout:\n${child.stdout()}\nstderr:\n${child.stderr()}`).toBe(0);
      }
    } finally {
      for (const { child } of servers) await child.stop();
    }
    for (const { child, stopped } of servers) if (stopped) expect(child.stdout()).toMatch(stopped);
  }, 300_000);
}
