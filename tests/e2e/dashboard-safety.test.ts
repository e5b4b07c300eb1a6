import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../engine/database.ts';
import { connectRedis } from '../../queues/connection.ts';
import { openQueues, type PipelineQueues } from '../../queues/queues.ts';
import { REPO_ROOT, runCli, startCli } from '../support/cli.ts';
import { sameOrigin, toyDashboards } from '../support/dashboard.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { deleteRedisKeys, freePort } from '../support/processes.ts';
import { redisUrl, serverUrl, withDatabase } from '../support/urls.ts';

/**
 * What the dashboard refuses, probed over plain HTTP the way an attacker's page or a careless
 * client would send it: cross-site writes to Bull Board's API (no Origin, another Origin, a
 * `text/plain` body), a foreign Host (DNS rebinding), unbounded partition ranges, malformed input,
 * password guessing, and a short password on all interfaces. The cross-site form in a real browser
 * is tests/e2e/dashboard-cross-site.test.ts.
 */

const PREFIX = `test-dashboard-safety-${randomUUID()}`;
const TOY_ASSETS = join(REPO_ROOT, 'tests/fixtures/toy-assets.ts');
let testDatabase: TestDatabase;
let database: Database;
let redis: Redis;
let queues: PipelineQueues;
const dashboards = toyDashboards(() => ({ database, queues }));

beforeAll(async () => {
  testDatabase = await createTestDatabase();
  database = testDatabase;
  redis = await connectRedis(redisUrl());
  queues = openQueues(redis, PREFIX);
});

afterEach(async () => {
  await dashboards.closeAll();
  await queues.schedule.resume();
  await queues.schedule.obliterate({ force: true });
});

afterAll(async () => {
  await queues?.close();
  redis?.disconnect();
  await deleteRedisKeys(redisUrl(), PREFIX);
  await testDatabase?.drop();
});

/** One HTTP request with exactly these headers (fetch would not send a Host of our choosing). */
function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const runCount = async () =>
  (await database.sql<{ n: number }[]>`select count(*)::int as n from runs`)[0]?.n ?? -1;
const scheduleJobs = async () => {
  const counts = await queues.schedule.getJobCounts('waiting', 'delayed', 'active', 'completed', 'failed');
  return Object.values(counts).reduce((sum, n) => sum + n, 0);
};
/** The body of the cross-site form of the security review: an empty job for the schedule queue. */
const FORM_BODY = '{"name":"monthly-asset-graph","data":{}}=';

describe('cross-site writes', () => {
  it("refuse Bull Board's add-job without an Origin, from another Origin, and cross-site by Sec-Fetch-Site", async () => {
    const { url } = await dashboards.serve();
    const add = `${url}/queues/api/queues/schedule/add`;
    const probes: Record<string, string>[] = [
      { 'content-type': 'text/plain' },
      { 'content-type': 'text/plain', origin: 'http://attacker.example' },
      { 'content-type': 'application/json', origin: 'http://attacker.example' },
      { 'content-type': 'application/json', origin: 'null' },
      { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' },
      { 'content-type': 'application/json', 'sec-fetch-site': 'same-site' },
      { 'content-type': 'application/json', origin: 'http://127.0.0.1:1' }, // another port: another origin
    ];
    for (const headers of probes) {
      const answer = await send(add, { method: 'POST', headers, body: FORM_BODY });
      expect(answer.status, JSON.stringify(headers)).toBe(403);
    }
    expect(await scheduleJobs()).toBe(0);
    expect(await runCount()).toBe(0);
  });

  it('refuse a text/plain or form body to the queues API even from the same origin (415)', async () => {
    const { url } = await dashboards.serve();
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const answer = await send(`${url}/queues/api/queues/schedule/add`, {
        method: 'POST',
        headers: { 'content-type': type, ...sameOrigin(url) },
        body: FORM_BODY,
      });
      expect(answer.status, type).toBe(415);
    }
    expect(await scheduleJobs()).toBe(0);
  });

  it("leave Bull Board's own bodiless PUTs working from its page, and refuse them cross-site", async () => {
    const { url } = await dashboards.serve();
    const pause = `${url}/queues/api/queues/schedule/pause`;
    expect(
      (await send(pause, { method: 'PUT', headers: { origin: 'http://attacker.example' } })).status,
    ).toBe(403);
    expect(await queues.schedule.isPaused()).toBe(false);
    // What Chromium sends with a fetch from the dashboard's own page.
    const fromPage = await send(pause, { method: 'PUT', headers: { 'sec-fetch-site': 'same-origin' } });
    expect(fromPage.status).toBe(200);
    expect(await queues.schedule.isPaused()).toBe(true);
    const resume = await send(`${url}/queues/api/queues/schedule/resume`, {
      method: 'PUT',
      headers: sameOrigin(url),
    });
    expect(resume.status).toBe(200);
    expect(await queues.schedule.isPaused()).toBe(false);
  });

  it('refuse the dashboard’s own forms from another origin before the CSRF check', async () => {
    const { url } = await dashboards.serve();
    const answer = await send(`${url}/materialize`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://attacker.example' },
      body: 'selection=source',
    });
    expect(answer.status).toBe(403);
    expect(answer.body).toContain('must come from this dashboard’s own pages');
    expect(await runCount()).toBe(0);
  });
});

describe('the Host header (DNS rebinding)', () => {
  it('answers 421 to a foreign Host, on pages and on the queues API, and changes nothing', async () => {
    const { url, port } = await dashboards.serve();
    const foreign = { host: `attacker.example:${port}` };
    const paused = await send(`${url}/queues/api/queues/schedule/pause`, {
      method: 'PUT',
      headers: { ...foreign, origin: `http://attacker.example:${port}` },
    });
    expect(paused.status).toBe(421);
    expect(await queues.schedule.isPaused()).toBe(false);
    for (const path of ['/', '/runs', '/queues', '/queues/api/queues']) {
      expect((await send(`${url}${path}`, { headers: foreign })).status, path).toBe(421);
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'LOCALHOST']) {
      expect((await send(`${url}/`, { headers: { host } })).status, host).toBe(200);
    }
  });

  it('answers to the names it is given, and to any Host when told so', async () => {
    const named = await dashboards.serve({ allowedHosts: ['127.0.0.1', 'dash.example.com'] });
    expect((await send(`${named.url}/`, { headers: { host: 'dash.example.com' } })).status).toBe(200);
    expect((await send(`${named.url}/`, { headers: { host: 'localhost' } })).status).toBe(421);
    const open = await dashboards.serve({ allowedHosts: 'any' });
    expect((await send(`${open.url}/`, { headers: { host: 'attacker.example' } })).status).toBe(200);
  });
});

describe('unbounded partition ranges', () => {
  it('are refused by the form and the status page with the limit named, creating no run', async () => {
    const { url } = await dashboards.serve();
    const { token, cookie } = await formToken(url);
    const answer = await send(`${url}/materialize`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, ...sameOrigin(url) },
      body: new URLSearchParams({ _csrf: token, selection: '*', from: '1000-01', to: '9999-12' }).toString(),
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toContain(
      'partition range 1000-01..9999-12 covers 108000 months: a run covers at most 600 (PIPELINE_MAX_PARTITIONS)',
    );
    const status = await send(`${url}/status?from=0001-01&to=9999-12`);
    expect(status.status).toBe(400);
    expect(status.body).toContain('a run covers at most 600');
    expect(await runCount()).toBe(0);
  });

  it('are refused by the CLI with one line naming the limit, and a raised limit is taken', async () => {
    const env = {
      DATABASE_URL: withDatabase(serverUrl(), testDatabase.name),
      PIPELINE_ASSETS: TOY_ASSETS,
      QUEUE_PREFIX: PREFIX,
    };
    const huge = await runCli(['materialize', '*', '--from', '0001-01', '--to', '9999-12', '--in-process'], {
      env,
    });
    expect(huge.code).toBe(2);
    expect(huge.stderr.trim()).toBe(
      'pipeline: partition range 0001-01..9999-12 covers 119988 months: a run covers at most 600 (PIPELINE_MAX_PARTITIONS)',
    );
    const status = await runCli(['status', '--from', '0001-01', '--to', '9999-12'], { env });
    expect(status.code).toBe(2);
    expect(status.stderr).toContain('a run covers at most 600 (PIPELINE_MAX_PARTITIONS)');
    const lowered = await runCli(['materialize', '*', '--from', '2025-01', '--to', '2025-03', '--dry-run'], {
      env: { ...env, PIPELINE_MAX_PARTITIONS: '2' },
    });
    expect(lowered.code).toBe(2);
    expect(lowered.stderr).toContain('covers 3 months: a run covers at most 2');
    expect(await runCount()).toBe(0);
  });
});

describe('malformed input', () => {
  it('gets 400, 404 or 413, never a 500', async () => {
    const { url } = await dashboards.serve();
    expect((await send(`${url}/runs?page=999999999999999999999`)).status).toBe(400);
    expect((await send(`${url}/runs?page=0`)).status).toBe(400);
    expect((await send(`${url}/runs?page=2&page=3`)).status).toBe(400);
    expect((await send(`${url}/runs/${'-'.repeat(36)}`)).status).toBe(404);
    expect((await send(`${url}/assets/%`)).status).toBe(400);
    expect((await send(`${url}/status?from=2025-01&from=2025-02&to=2025-03`)).status).toBe(400);
    const { token, cookie } = await formToken(url);
    const post = (body: string) =>
      send(`${url}/materialize`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, ...sameOrigin(url) },
        body,
      });
    const twice = await post(
      `_csrf=${encodeURIComponent(token)}&selection=source&partition=2025-01&partition=2025-02`,
    );
    expect(twice.status).toBe(400);
    expect(twice.body).toContain('&#39;partition&#39; must be given once');
    expect((await post(`_csrf=${encodeURIComponent(token)}&selection=${'x'.repeat(11_000)}`)).status).toBe(
      413,
    );
    expect(await runCount()).toBe(0);
  });

  it('sends no X-Powered-By, on pages or from Bull Board', async () => {
    const { url } = await dashboards.serve();
    for (const path of ['/', '/queues', '/queues/api/queues', '/no-such-page']) {
      expect((await send(`${url}${path}`)).headers['x-powered-by'], path).toBeUndefined();
    }
  });
});

describe('basic auth', () => {
  const USER = 'ops';
  const PASSWORD = `pw-${randomUUID()}`;
  const basic = (password: string) => ({
    authorization: `Basic ${Buffer.from(`${USER}:${password}`).toString('base64')}`,
  });

  it('throttles failed attempts per client (429), the right password included once over the limit', async () => {
    const { url } = await dashboards.serve({
      auth: { user: USER, password: PASSWORD },
      authLimit: { attempts: 5, windowMs: 60_000 },
    });
    expect((await send(`${url}/`, { headers: basic(PASSWORD) })).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await send(`${url}/`, { headers: basic('guess') })).status).toBe(401);
    expect((await send(`${url}/`, { headers: basic('guess') })).status).toBe(429);
    expect((await send(`${url}/queues/api/queues`, { headers: basic(PASSWORD) })).status).toBe(429);
  });

  it('on all interfaces refuses to start with a password under 12 characters, saying so', async () => {
    const started = startCli(['dashboard', '--port', String(await freePort())], {
      env: {
        DATABASE_URL: withDatabase(serverUrl(), testDatabase.name),
        QUEUE_PREFIX: PREFIX,
        PIPELINE_ASSETS: TOY_ASSETS,
        DASHBOARD_USER: USER,
        DASHBOARD_PASSWORD: 'x',
      },
    });
    const exit = await started.exited;
    expect(exit.code).toBe(2);
    expect(started.stderr().trim()).toBe(
      'pipeline: DASHBOARD_PASSWORD is 1 characters: on all interfaces the dashboard needs at least 12',
    );
  });
});

/** The CSRF cookie and the form's token from `/`, as a browser gets them. */
async function formToken(url: string): Promise<{ token: string; cookie: string }> {
  const home = await send(`${url}/`);
  const token = /name="_csrf" value="([^"]+)"/.exec(home.body)?.[1];
  const setCookie = [home.headers['set-cookie'] ?? []].flat();
  const cookie = setCookie
    .map((line) => line.split(';')[0] ?? '')
    .find((pair) => pair.startsWith('pipeline.csrf='));
  if (!token || !cookie) throw new Error('no CSRF token or cookie on /');
  return { token, cookie };
}
