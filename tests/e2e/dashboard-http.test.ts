import { randomBytes, randomUUID } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../engine/database.ts';
import { AssetGraph } from '../../engine/graph.ts';
import { planRun } from '../../engine/plan.ts';
import { RunStore } from '../../engine/run-store.ts';
import { connectRedis } from '../../queues/connection.ts';
import { openQueues, type PipelineQueues } from '../../queues/queues.ts';
import { assets as toyAssets } from '../fixtures/toy-assets.ts';
import { type CliChild, REPO_ROOT, startCli } from '../support/cli.ts';
import { postForm, sameOrigin, toyDashboards } from '../support/dashboard.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { deleteRedisKeys, freePort } from '../support/processes.ts';
import { redisUrl, serverUrl, withDatabase } from '../support/urls.ts';

/**
 * The dashboard over HTTP (issue 8, Must 4 and 5): basic auth on every route, loopback-only
 * binding without credentials, CSRF on materialize, read-only mode (no form, Bull Board refuses
 * changes), escaping of data in pages, and no secret in any page or in the CLI's output. The app
 * runs in-process on this file's own database and queue prefix; the binding tests run the CLI.
 */

const TOY_ASSETS = join(REPO_ROOT, 'tests/fixtures/toy-assets.ts');
const PREFIX = `test-dashboard-http-${randomUUID()}`;
const USER = 'admin';
// Distinctive secrets, so a leak anywhere is unmistakable (the local server trusts any password).
const DASHBOARD_PASSWORD = `dash-pw-${randomBytes(6).toString('hex')}`;
const DATABASE_PASSWORD = `db-pw-${randomBytes(6).toString('hex')}`;
const AUTH = `Basic ${Buffer.from(`${USER}:${DASHBOARD_PASSWORD}`).toString('base64')}`;
const WRONG_AUTH = `Basic ${Buffer.from(`${USER}:not-the-password`).toString('base64')}`;
/** A customer-like string: quotes, an ampersand and markup that must never reach a page as markup. */
const NASTY = `O'Brien & "Sons" <script>alert("pwned")</script><img src=x onerror=alert(1)>`;
const NASTY_ESCAPED =
  'O&#39;Brien &amp; &quot;Sons&quot; &lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;';

const graph = new AssetGraph(toyAssets);
let testDatabase: TestDatabase;
/** The app's own pool, connected with a URL that carries DATABASE_PASSWORD. */
let database: Database;
let secretDatabaseUrl: string;
let redis: Redis;
let queues: PipelineQueues;
let store: RunStore;
/** A run of the toy graph (joined[2025-03] and its upstream), for the run routes. */
let seededRunId: string;

const processes: CliChild[] = [];
const dashboards = toyDashboards(() => ({ database, queues }));
/** The dashboard in-process on a free loopback port. */
const serve = dashboards.serve;

beforeAll(async () => {
  testDatabase = await createTestDatabase();
  const url = new URL(withDatabase(serverUrl(), testDatabase.name));
  url.password = DATABASE_PASSWORD;
  secretDatabaseUrl = url.toString();
  database = await openDatabase(secretDatabaseUrl, { max: 5 });
  redis = await connectRedis(redisUrl());
  queues = openQueues(redis, PREFIX);
  store = new RunStore(database.sql);
  ({ runId: seededRunId } = await store.createRun({
    trigger: 'cli',
    selection: '+joined',
    executor: 'bullmq',
    plan: planRun(graph, graph.upstreamOf('joined').concat('joined'), { from: '2025-03', to: '2025-03' }),
  }));
});

afterEach(async () => {
  await dashboards.closeAll();
  await Promise.all(processes.splice(0).map((process_) => process_.stop(20_000)));
});

afterAll(async () => {
  await queues?.close();
  redis?.disconnect();
  await deleteRedisKeys(redisUrl(), PREFIX);
  await database?.close();
  await testDatabase?.drop();
});

async function runCount(): Promise<number> {
  const [row] = await database.sql<{ n: number }[]>`select count(*)::int as n from runs`;
  return row?.n ?? -1;
}

/** The CSRF cookie and the form's hidden token, as a browser gets them from `/`. */
async function csrfFrom(base: string, headers: Record<string, string> = {}) {
  const { token, cookie } = await pageForm(`${base}/`, headers);
  if (!token || !cookie) throw new Error(`no CSRF token or cookie from ${base}/`);
  return { token, cookie };
}

/** A page with the CSRF token of its forms (if it has any) and the cookie it belongs to. */
async function pageForm(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  expect(response.status).toBe(200);
  const body = await response.text();
  const token = body.match(/name="_csrf" value="([^"]+)"/)?.[1];
  const cookie = response.headers
    .getSetCookie()
    .map((line) => line.split(';')[0] ?? '')
    .find((pair) => pair.startsWith('pipeline.csrf='));
  return { body, token, cookie };
}

function postMaterialize(
  base: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${base}/materialize`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...sameOrigin(base), ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

/** Every route of the dashboard (Bull Board's UI and API included). */
function routes(): { method: string; path: string }[] {
  return [
    { method: 'GET', path: '/' },
    { method: 'GET', path: '/runs' },
    { method: 'GET', path: '/runs?page=2' },
    { method: 'GET', path: `/runs/${seededRunId}` },
    { method: 'GET', path: '/assets/joined' },
    { method: 'GET', path: '/queues' },
    { method: 'GET', path: '/queues/queue/assets' },
    { method: 'GET', path: '/queues/api/queues' },
    { method: 'GET', path: '/queues/api/redis/stats' },
    { method: 'PUT', path: '/queues/api/queues/assets/retry/failed' },
    { method: 'GET', path: '/no-such-page' },
    { method: 'POST', path: '/materialize' },
  ];
}

/** One failed job in the assets queue (a real worker fails it), as Bull Board shows it. */
async function failedJob(): Promise<{ id: string; queue: Queue; close: () => Promise<void> }> {
  const connection = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  const workerConnection = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  const queue = new Queue('assets', { connection, prefix: PREFIX });
  const close = async () => {
    await queue.close();
    connection.disconnect();
    workerConnection.disconnect();
  };
  const id = `${randomUUID()}.joined.2025-03`;
  await queue.add(
    'joined[2025-03]',
    { runId: seededRunId, assetKey: 'joined', partitionKey: '2025-03' },
    { jobId: id, attempts: 1 },
  );
  const worker = new Worker(
    'assets',
    async (job) => {
      if (job.id === id) throw new Error('deliberate failure');
    },
    { connection: workerConnection, prefix: PREFIX },
  );
  worker.on('error', () => {});
  try {
    const deadline = Date.now() + 30_000;
    while ((await queue.getJobState(id)) !== 'failed') {
      if (Date.now() > deadline) throw new Error(`job ${id} did not fail`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } catch (error) {
    await close();
    throw error;
  } finally {
    await worker.close();
  }
  return { id, queue, close };
}

function nonLoopbackIPv4(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((address) => address && address.family === 'IPv4' && !address.internal)?.address;
}

describe('basic auth', () => {
  it('answers 401 with a challenge on every route without credentials or with wrong ones', async () => {
    // More failed attempts than the default limit allows: this test is about the 401s.
    const { url } = await serve({
      auth: { user: USER, password: DASHBOARD_PASSWORD },
      authLimit: { attempts: 1_000, windowMs: 60_000 },
    });
    const before = await runCount();
    for (const { method, path } of routes()) {
      for (const headers of [sameOrigin(url), { ...sameOrigin(url), authorization: WRONG_AUTH }]) {
        const response = await fetch(`${url}${path}`, { method, headers, redirect: 'manual' });
        expect(response.status, `${method} ${path}`).toBe(401);
        expect(response.headers.get('www-authenticate'), `${method} ${path}`).toBe(
          'Basic realm="asset-pipeline"',
        );
        const body = await response.text();
        expect(body, `${method} ${path}`).not.toContain('asset graph');
        expect(body).not.toContain(DASHBOARD_PASSWORD);
      }
    }
    expect(await runCount()).toBe(before);
  });

  it('answers every route with credentials, and materializes with them and a CSRF token', async () => {
    const { url } = await serve({ auth: { user: USER, password: DASHBOARD_PASSWORD } });
    const headers = { authorization: AUTH };
    for (const { method, path } of routes()) {
      if (method !== 'GET') continue;
      const response = await fetch(`${url}${path}`, { headers, redirect: 'manual' });
      const expected = path === '/no-such-page' ? 404 : 200;
      expect(response.status, `GET ${path}`).toBe(expected);
      await response.arrayBuffer();
    }
    const queuesApi = (await (await fetch(`${url}/queues/api/queues`, { headers })).json()) as {
      queues: { name: string; readOnlyMode: boolean }[];
    };
    expect(queuesApi.queues.map((q) => q.name).sort()).toEqual(['assets', 'schedule']);
    expect(queuesApi.queues.every((q) => !q.readOnlyMode)).toBe(true);

    const { token, cookie } = await csrfFrom(url, headers);
    const before = await runCount();
    // left reads daily[2025-05], never materialized: refused, saying what is missing and how to add it.
    const refused = await postMaterialize(
      url,
      { _csrf: token, selection: 'left', partition: '2025-05' },
      { ...headers, cookie },
    );
    expect(refused.status).toBe(400);
    const refusal = await refused.text();
    expect(refusal).toContain(
      'refused: the run would read missing or failed partitions it does not materialize',
    );
    expect(refusal).toContain('materialize: source —'); // the root: daily[2025-05] reads it
    expect(refusal).toContain('add missing upstream');
    expect(await runCount()).toBe(before);
    const response = await postMaterialize(
      url,
      { _csrf: token, selection: 'left', partition: '2025-05', upstream: 'missing' },
      { ...headers, cookie },
    );
    expect(response.status).toBe(303);
    const runId = response.headers.get('location')?.match(/^\/runs\/([0-9a-f-]{36})$/)?.[1];
    expect(runId).toBeDefined();
    expect(await runCount()).toBe(before + 1);
    const [run] = await database.sql<{ trigger: string; selection: string }[]>`
      select trigger, selection from runs where id = ${runId ?? ''}`;
    expect(run).toEqual({ trigger: 'dashboard', selection: 'left' });
    // The run page it redirects to answers too.
    const runPage = await fetch(`${url}/runs/${runId}`, { headers });
    expect(runPage.status).toBe(200);
    expect(await runPage.text()).toContain('id="run-status"');
  });
});

describe('pipeline dashboard binding', () => {
  const cliEnv = (extra: Record<string, string | undefined>) => ({
    DATABASE_URL: secretDatabaseUrl,
    REDIS_URL: redisUrl(),
    QUEUE_PREFIX: PREFIX,
    PIPELINE_ASSETS: TOY_ASSETS,
    DASHBOARD_USER: undefined,
    DASHBOARD_PASSWORD: undefined,
    DASHBOARD_READ_ONLY: undefined,
    DASHBOARD_PORT: undefined,
    ...extra,
  });

  it('without credentials listens on 127.0.0.1 only and says so', async () => {
    const port = await freePort();
    const dashboard = startCli(['dashboard', '--port', String(port)], { env: cliEnv({}) });
    processes.push(dashboard);
    const [line] = await dashboard.waitForStdout(/^dashboard on .*$/m, 60_000);
    expect(line).toMatch(
      new RegExp(
        `^dashboard on http://127\\.0\\.0\\.1:${port} — no DASHBOARD_USER/DASHBOARD_PASSWORD: loopback only;`,
      ),
    );
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
    const external = nonLoopbackIPv4();
    if (external) {
      // Listening on 127.0.0.1 only: the machine's own network address gets no answer.
      await expect(fetch(`http://${external}:${port}/`)).rejects.toThrow();
    }
    await dashboard.stop();
    for (const output of [dashboard.stdout(), dashboard.stderr()]) {
      expect(output).not.toContain(DATABASE_PASSWORD);
    }
  });

  it('with credentials listens on every interface, asks for them and never prints the password', async () => {
    const port = await freePort();
    const dashboard = startCli(['dashboard', '--port', String(port)], {
      env: cliEnv({ DASHBOARD_USER: USER, DASHBOARD_PASSWORD }),
    });
    processes.push(dashboard);
    const [line] = await dashboard.waitForStdout(/^dashboard on .*$/m, 60_000);
    expect(line).toMatch(
      new RegExp(`^dashboard on http://localhost:${port} — basic auth as '${USER}', all interfaces;`),
    );
    const host = nonLoopbackIPv4() ?? '127.0.0.1';
    expect((await fetch(`http://${host}:${port}/`)).status).toBe(401);
    const page = await fetch(`http://${host}:${port}/`, { headers: { authorization: AUTH } });
    expect(page.status).toBe(200);
    expect(await page.text()).not.toContain(DASHBOARD_PASSWORD);
    await dashboard.stop();
    for (const output of [dashboard.stdout(), dashboard.stderr()]) {
      expect(output).not.toContain(DASHBOARD_PASSWORD);
      expect(output).not.toContain(DATABASE_PASSWORD);
    }
  });
});

describe('CSRF', () => {
  it('refuses POST /materialize without a valid token and creates no run', async () => {
    const { url } = await serve();
    const { token, cookie } = await csrfFrom(url);
    const other = await csrfFrom(url);
    const fields = { selection: '*', partition: '2025-06' };
    const before = await runCount();
    const attempts: [string, Response][] = [
      ['no token, no cookie', await postMaterialize(url, fields)],
      ['cookie without token', await postMaterialize(url, fields, { cookie })],
      ['token without cookie', await postMaterialize(url, { ...fields, _csrf: token })],
      ['forged token', await postMaterialize(url, { ...fields, _csrf: 'forged' }, { cookie })],
      ['token of another cookie', await postMaterialize(url, { ...fields, _csrf: other.token }, { cookie })],
      [
        'token in a header instead of the form',
        await postMaterialize(url, fields, { cookie, 'x-csrf-token': token }),
      ],
    ];
    for (const [what, response] of attempts) {
      expect(response.status, what).toBe(403);
      expect(await response.text(), what).toContain('The form expired or did not come from this dashboard');
    }
    expect(await runCount()).toBe(before);

    // The same request with the page's token and cookie goes through (the refusals above are CSRF's).
    const accepted = await postMaterialize(url, { ...fields, _csrf: token }, { cookie });
    expect(accepted.status).toBe(303);
    expect(await runCount()).toBe(before + 1);
  });

  it('answers a bad selection with 400 and an escaped message, creating no run', async () => {
    const { url } = await serve();
    const { token, cookie } = await csrfFrom(url);
    const before = await runCount();
    const response = await postMaterialize(
      url,
      { _csrf: token, selection: '<script>alert(1)</script>', partition: '2025-06' },
      { cookie },
    );
    expect(response.status).toBe(400);
    const body = await response.text();
    expect(body).not.toContain('<script>');
    expect(body).toContain('&lt;script&gt;');
    expect(await runCount()).toBe(before);
  });
});

describe('read-only mode', () => {
  it('hides the materialize form and refuses POST /materialize', async () => {
    const { url } = await serve({ readOnly: true });
    const home = await (await fetch(`${url}/`)).text();
    expect(home).toContain('id="asset-graph"');
    expect(home).not.toContain('id="materialize"');
    expect(home).not.toContain('_csrf');
    expect(home).toContain('read-only dashboard');
    const asset = await (await fetch(`${url}/assets/joined`)).text();
    expect(asset).toContain('toy asset joined');
    expect(asset).not.toContain('id="materialize"');

    // A writable dashboard shows the form (so the checks above can fail).
    const writable = await serve();
    expect(await (await fetch(`${writable.url}/`)).text()).toContain('id="materialize"');

    const before = await runCount();
    const response = await postMaterialize(url, { selection: '*', partition: '2025-07' });
    expect(response.status).toBe(403);
    expect(await runCount()).toBe(before);
  });

  it("turns Bull Board read-only: its API refuses to retry a failed job, a writable board's retries it", async () => {
    const { id, queue, close } = await failedJob();
    try {
      const readOnly = await serve({ readOnly: true });
      const listed = (await (await fetch(`${readOnly.url}/queues/api/queues`)).json()) as {
        queues: { name: string; readOnlyMode: boolean }[];
      };
      expect(listed.queues.length).toBe(2);
      expect(listed.queues.every((q) => q.readOnlyMode)).toBe(true);
      const refused = [
        `/queues/api/queues/assets/${id}/retry`,
        '/queues/api/queues/assets/retry/failed',
        `/queues/api/queues/assets/${id}/clean`,
        '/queues/api/queues/assets/clean/failed',
        '/queues/api/queues/assets/pause',
      ];
      for (const path of refused) {
        const response = await fetch(`${readOnly.url}${path}`, {
          method: 'PUT',
          headers: sameOrigin(readOnly.url),
        });
        expect(response.status, path).toBe(405);
      }
      expect(await queue.getJobState(id)).toBe('failed');

      const writable = await serve();
      const retried = await fetch(`${writable.url}/queues/api/queues/assets/${id}/retry`, {
        method: 'PUT',
        headers: sameOrigin(writable.url),
      });
      expect(retried.status).toBe(204);
      expect(await queue.getJobState(id)).toBe('waiting');
    } finally {
      await close();
    }
  });
});

/** A run of `plan` whose first node failed for good (its downstream pending), as the protocol records it. */
async function failedRun(partition: string): Promise<string> {
  const { runId, ready } = await store.createRun({
    trigger: 'cli',
    selection: '+joined',
    executor: 'bullmq',
    plan: planRun(graph, [...graph.withUpstream('joined')], { from: partition, to: partition }),
  });
  const first = ready[0];
  if (!first) throw new Error('no ready node');
  const started = await store.startNode(runId, first);
  if (started.state !== 'started') throw new Error(started.state);
  await store.failNode(runId, first, started.attempt, {
    durationMs: 1,
    error: 'deliberate',
    checks: [],
    end: 'failed',
  });
  return runId;
}

/** The run page's CSRF token and cookie, as the browser gets them with the page. */
const runPageForm = (base: string, runId: string) => pageForm(`${base}/runs/${runId}`);

function postAction(base: string, runId: string, action: string, token?: string, cookie?: string) {
  return postForm(base, `/runs/${runId}/${action}`, token, cookie);
}

const runStatus = async (runId: string) =>
  (await database.sql<{ status: string }[]>`select status from runs where id = ${runId}`)[0]?.status;
const nodeStatuses = async (runId: string) =>
  Object.fromEntries(
    (
      await database.sql<{ node: string; status: string }[]>`
        select asset_key || coalesce('[' || nullif(partition_key, '') || ']', '') as node, status
        from run_nodes where run_id = ${runId}`
    ).map((row) => [row.node, row.status]),
  );

describe('run actions: re-execute failed, cancel', () => {
  it('re-executes a failed run on the workers with the page token, and refuses without it', async () => {
    const { url } = await serve();
    const runId = await failedRun('2025-04');
    const { body, token, cookie } = await runPageForm(url, runId);
    expect(body).toContain('id="reexecute"');
    expect(body).not.toContain('id="cancel"');
    expect(nodeStatuses(runId)).resolves.toMatchObject({ source: 'failed', 'daily[2025-04]': 'pending' });

    for (const refused of [
      await postAction(url, runId, 'reexecute'),
      await postAction(url, runId, 'reexecute', 'forged', cookie),
      await postAction(url, runId, 'reexecute', token),
    ]) {
      expect(refused.status).toBe(403);
    }
    expect(await runStatus(runId)).toBe('failed');

    const accepted = await postAction(url, runId, 'reexecute', token, cookie);
    expect(accepted.status).toBe(303);
    expect(accepted.headers.get('location')).toBe(`/runs/${runId}`);
    expect(await runStatus(runId)).toBe('running');
    expect((await nodeStatuses(runId)).source).toBe('queued');
    // The node is a job on the assets queue again, for any worker to take.
    const job = await queues.assets.getJob(`${runId}.source.all`);
    expect(job?.name).toBe('source');
    expect(['waiting', 'prioritized']).toContain(await job?.getState());
    await job?.remove();

    // Nothing failed any more: the button is gone and a stale form is answered 409, saying why.
    const again = await runPageForm(url, runId);
    expect(again.body).not.toContain('id="reexecute"');
    const stale = await postAction(url, runId, 'reexecute', again.token ?? token, again.cookie ?? cookie);
    expect(stale.status).toBe(409);
    expect(await stale.text()).toContain('still running');
  });

  it('cancels a running run: pending and queued nodes canceled, the run canceled', async () => {
    const { url } = await serve();
    const { runId } = await store.createRun({
      trigger: 'cli',
      selection: '+joined',
      executor: 'bullmq',
      plan: planRun(graph, [...graph.withUpstream('joined')], { from: '2025-05', to: '2025-05' }),
    });
    const { body, token, cookie } = await runPageForm(url, runId);
    expect(body).toContain('id="cancel"');
    expect(body).not.toContain('id="reexecute"');
    expect((await postAction(url, runId, 'cancel', 'forged', cookie)).status).toBe(403);
    expect(await runStatus(runId)).toBe('queued');

    const accepted = await postAction(url, runId, 'cancel', token, cookie);
    expect(accepted.status).toBe(303);
    expect(await runStatus(runId)).toBe('canceled');
    const nodes = await nodeStatuses(runId);
    expect(Object.values(nodes).every((status) => status === 'canceled')).toBe(true);
    // A canceled run offers to re-execute what was canceled, no longer to cancel.
    const after = await runPageForm(url, runId);
    expect(after.body).toContain('id="reexecute"');
    expect(after.body).not.toContain('id="cancel"');
    const twice = await postAction(url, runId, 'cancel', after.token, after.cookie);
    expect(twice.status).toBe(409);
    expect(await twice.text()).toContain('already ended');
  });

  it('read-only: no buttons, and both actions are refused with nothing changed', async () => {
    const runId = await failedRun('2025-06');
    const writable = await serve();
    const form = await runPageForm(writable.url, runId);
    expect(form.body).toContain('id="reexecute"');

    const { url } = await serve({ readOnly: true });
    const page = await (await fetch(`${url}/runs/${runId}`)).text();
    expect(page).toContain('id="run-status"');
    expect(page).not.toContain('id="reexecute"');
    expect(page).not.toContain('id="cancel"');
    expect(page).not.toContain('_csrf');
    for (const action of ['reexecute', 'cancel']) {
      expect((await postAction(url, runId, action, form.token, form.cookie)).status).toBe(403);
    }
    expect(await runStatus(runId)).toBe('failed');
  });

  it('without Redis: cancel is offered, re-executing (which needs the workers) is not', async () => {
    const { url } = await serve({ queues: undefined });
    const runId = await failedRun('2025-07');
    const { body, token, cookie } = await runPageForm(url, runId);
    expect(body).not.toContain('id="reexecute"');
    expect((await postAction(url, runId, 'reexecute', token, cookie)).status).toBe(403);
    expect(await runStatus(runId)).toBe('failed');
  });
});

describe('escaping and secrets', () => {
  it('escapes customer-like data in every page that shows it', async () => {
    const [run] = await database.sql<{ id: string }[]>`
      insert into runs (trigger, selection, executor, status, partition_from, partition_to, error, started_at, finished_at)
      values ('cli', ${NASTY}, 'bullmq', 'failed', '2025-08', '2025-08', ${NASTY}, now(), now())
      returning id`;
    const runId = run?.id ?? '';
    await database.sql`
      insert into run_nodes (run_id, asset_key, partition_key, position, status, attempts, started_at, finished_at, duration_ms, error)
      values (${runId}, 'joined', '2025-08', 0, 'failed', 1, now(), now(), 5, ${NASTY}),
             (${runId}, 'left', '2025-08', 1, 'succeeded', 1, now() - interval '1 second', now(), 5, null)`;
    await database.sql`
      update run_nodes set metadata = ${JSON.stringify({ rowCount: 1, topCustomer: NASTY })}::jsonb
      where run_id = ${runId} and asset_key = 'left'`;
    await database.sql`
      insert into materializations (run_id, asset_key, partition_key, duration_ms, metadata)
      values (${runId}, 'joined', '2025-08', 5, ${JSON.stringify({ rowCount: 3, topCustomer: NASTY })}::jsonb)`;
    await database.sql`
      insert into check_results (run_id, asset_key, partition_key, check_name, severity, passed, message)
      values (${runId}, 'joined', '2025-08', 'positive', 'error', false, ${NASTY})`;

    const { url } = await serve();
    const pages = ['/', '/runs', `/runs/${runId}`, '/assets/joined'];
    for (const path of pages) {
      const response = await fetch(`${url}${path}`);
      expect(response.status, path).toBe(200);
      const body = await response.text();
      // The pages carry no scripts of their own: any <script> would be the data's.
      expect(body, path).not.toContain('<script');
      expect(body, path).not.toContain('<img');
      expect(body, path).toContain(NASTY_ESCAPED);
    }
    // Each place the string was put is shown (escaped) where it belongs.
    const runPage = await (await fetch(`${url}/runs/${runId}`)).text();
    // selection, run error, node error, check message, node metadata
    expect(runPage.split(NASTY_ESCAPED).length - 1).toBe(5);
    const assetPage = await (await fetch(`${url}/assets/joined`)).text();
    expect(assetPage.split(NASTY_ESCAPED).length - 1).toBe(2); // latest check message, materialization metadata

    // A URL is data too: the 404 page names the asset it did not find, escaped.
    const missing = await fetch(`${url}/assets/${encodeURIComponent('<script>x</script>')}`);
    expect(missing.status).toBe(404);
    const missingBody = await missing.text();
    expect(missingBody).not.toContain('<script');
    expect(missingBody).toContain('&lt;script&gt;x&lt;/script&gt;');
  });

  it('shows no secret (database or dashboard password) in any page or API answer', async () => {
    const { url } = await serve({ auth: { user: USER, password: DASHBOARD_PASSWORD } });
    const headers = { authorization: AUTH };
    const { token, cookie } = await csrfFrom(url, headers);
    const answers: [string, Response][] = [];
    for (const { method, path } of routes()) {
      if (method === 'GET') answers.push([path, await fetch(`${url}${path}`, { headers })]);
    }
    answers.push([
      '/queues/api/queues/assets/default-job-options',
      await fetch(`${url}/queues/api/queues/assets/default-job-options`, { headers }),
    ]);
    answers.push([
      'POST /materialize (bad selection)',
      await postMaterialize(
        url,
        { _csrf: token, selection: 'nope', partition: '2025-09' },
        { ...headers, cookie },
      ),
    ]);
    answers.push(['POST /materialize (no token)', await postMaterialize(url, { selection: '*' }, headers)]);
    for (const [what, response] of answers) {
      const text = `${[...response.headers.entries()].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${await response.text()}`;
      expect(text, what).not.toContain(DATABASE_PASSWORD);
      expect(text, what).not.toContain(DASHBOARD_PASSWORD);
      expect(text, what).not.toContain(secretDatabaseUrl);
    }
  });
});
