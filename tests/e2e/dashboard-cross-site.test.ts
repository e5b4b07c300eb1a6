import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES } from '../../queues/catalog.ts';
import { launchChromium } from '../support/browser.ts';
import { type CliChild, REPO_ROOT, startCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { deleteRedisKeys, freePort, waitFor } from '../support/processes.ts';
import { redisUrl, serverUrl, withDatabase } from '../support/urls.ts';

/**
 * The attack of the security review, in real Chromium: a page on another site auto-submits a
 * `text/plain` form to Bull Board's add-job endpoint of a loopback dashboard (no credentials
 * needed there), and another posts the same with a `no-cors` fetch. Both must be refused with
 * nothing added or paused — while the same requests from the dashboard's own page still work.
 */

const PREFIX = `test-cross-site-${randomUUID()}`;
const TOY_ASSETS = join(REPO_ROOT, 'tests/fixtures/toy-assets.ts');

let database: TestDatabase;
let dashboard: CliChild;
let dashboardUrl: string;
let attacker: Server;
let attackerUrl: string;
let browser: Browser;
let redis: Redis;
let schedule: Queue;

/** The attacker's pages, served from another origin (another port on localhost). */
function attackerPages(target: string): (path: string) => string {
  return (path) =>
    path === '/form'
      ? `<!doctype html><body><form id="f" method="POST" enctype="text/plain"
           action="${target}/queues/api/queues/schedule/add">
           <input name='{"name":"monthly-asset-graph","data":{},"x":"' value='"}'></form>
         <script>document.getElementById('f').submit()</script></body>`
      : `<!doctype html><body><script>
           fetch('${target}/queues/api/queues/schedule/add', {
             method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' },
             body: JSON.stringify({ name: 'monthly-asset-graph', data: {} }),
           }).then(() => { document.title = 'sent' }, () => { document.title = 'failed' });
         </script></body>`;
}

beforeAll(async () => {
  database = await createTestDatabase();
  const port = await freePort();
  dashboard = startCli(['dashboard', '--port', String(port)], {
    env: {
      DATABASE_URL: withDatabase(serverUrl(), database.name),
      REDIS_URL: redisUrl(),
      QUEUE_PREFIX: PREFIX,
      PIPELINE_ASSETS: TOY_ASSETS,
      DASHBOARD_USER: undefined,
      DASHBOARD_PASSWORD: undefined,
    },
  });
  await dashboard.waitForStdout(/^dashboard on /m);
  dashboardUrl = `http://127.0.0.1:${port}`;
  const pages = attackerPages(dashboardUrl);
  attacker = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end(pages(req.url ?? '/'));
  });
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  const address = attacker.address();
  attackerUrl = `http://localhost:${typeof address === 'object' && address ? address.port : 0}`;
  redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  schedule = new Queue(QUEUES.schedule, { connection: redis, prefix: PREFIX });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await dashboard?.stop(10_000);
  await new Promise((resolve) => attacker?.close(resolve));
  await schedule?.close();
  redis?.disconnect();
  await deleteRedisKeys(redisUrl(), PREFIX);
  await database?.drop();
});

const jobsOnSchedule = async () =>
  Object.values(await schedule.getJobCounts('waiting', 'delayed', 'active', 'completed', 'failed')).reduce(
    (sum, n) => sum + n,
    0,
  );

describe('a page on another site', () => {
  it('auto-submitting a text/plain form to Bull Board gets 403, and no job is added', async () => {
    const page = await browser.newPage();
    try {
      const answered = page.waitForResponse((response) => response.url().startsWith(dashboardUrl));
      await page.goto(`${attackerUrl}/form`);
      const response = await answered;
      expect(response.request().method()).toBe('POST');
      expect(response.status()).toBe(403);
      expect(await response.text()).toContain('must come from this dashboard’s own pages');
      expect(await jobsOnSchedule()).toBe(0);
    } finally {
      await page.close();
    }
  });

  it('posting the same job with a no-cors fetch gets 403, and no job is added', async () => {
    const page = await browser.newPage();
    try {
      const answered = page.waitForResponse((response) => response.url().startsWith(dashboardUrl));
      await page.goto(`${attackerUrl}/fetch`);
      expect((await answered).status()).toBe(403);
      await waitFor('the page to have sent its request', async () => (await page.title()) === 'sent');
      expect(await jobsOnSchedule()).toBe(0);
    } finally {
      await page.close();
    }
  });
});

describe("the dashboard's own page", () => {
  it("pauses and resumes a queue with the bodiless PUTs Bull Board's buttons send", async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${dashboardUrl}/queues`);
      const put = (path: string) =>
        page.evaluate(
          async (url) => (await fetch(url, { method: 'PUT' })).status,
          `/queues/api/queues/schedule/${path}`,
        );
      expect(await put('pause')).toBe(200);
      expect(await schedule.isPaused()).toBe(true);
      expect(await put('resume')).toBe(200);
      expect(await schedule.isPaused()).toBe(false);
    } finally {
      await page.close();
    }
  });
});
