import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser.ts';
import { type CliChild, runCli, startCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { copyLanding } from '../support/landing-copy.ts';
import { deleteRedisKeys, freePort } from '../support/processes.ts';
import { redisUrl, serverUrl, withDatabase } from '../support/urls.ts';

/**
 * Every page of the dashboard, Bull Board's included, works offline and cleanly: in Chromium, no
 * request leaves the server, none fails or answers an error, nothing is logged to the console as
 * an error and no script throws. The pages are those of a real graph with a run in-process and a
 * run on a worker (so Bull Board has a job to show).
 */

const PREFIX = `test-dashboard-offline-${randomUUID()}`;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
const TIMEOUT = 240_000;

let database: TestDatabase;
let landing: string;
let dashboard: CliChild;
let worker: CliChild;
let browser: Browser;
let baseUrl: string;
let inProcessRun: string;
let workerRun: string;

beforeAll(async () => {
  database = await createTestDatabase();
  landing = copyLanding();
  const env = {
    DATABASE_URL: withDatabase(serverUrl(), database.name),
    LANDING_DIR: landing,
    REDIS_URL: redisUrl(),
    QUEUE_PREFIX: PREFIX,
    LANDING_SENSOR_INTERVAL: '0',
    DASHBOARD_USER: undefined,
    DASHBOARD_PASSWORD: undefined,
    DASHBOARD_READ_ONLY: undefined,
    PIPELINE_ASSETS: undefined,
    LOG_LEVEL: 'info',
  };
  const inProcess = await runCli(['materialize', '* -group:market', '--missing', '--in-process'], {
    env,
    timeoutMs: 180_000,
  });
  expect(inProcess.code, inProcess.stderr).toBe(0);
  inProcessRun = runIdOf(inProcess.stdout);

  const port = await freePort();
  dashboard = startCli(['dashboard', '--port', String(port)], { env });
  worker = startCli(['worker', '--concurrency', '1'], { env });
  await dashboard.waitForStdout(new RegExp(`^dashboard on http://127\\.0\\.0\\.1:${port} `, 'm'));
  await worker.waitForStdout(/^worker ready: /m);
  baseUrl = `http://127.0.0.1:${port}`;
  const onWorker = await runCli(['materialize', 'channels'], { env, timeoutMs: 120_000 });
  expect(onWorker.code, onWorker.stderr).toBe(0);
  workerRun = runIdOf(onWorker.stdout);
  browser = await launchChromium();
}, TIMEOUT);

afterAll(async () => {
  await browser?.close();
  await Promise.all([dashboard?.stop(20_000), worker?.stop(20_000)]);
  await deleteRedisKeys(redisUrl(), PREFIX);
  await database?.drop();
  if (landing) rmSync(landing, { recursive: true, force: true });
});

function runIdOf(stdout: string): string {
  const id = stdout.match(new RegExp(`^run (${UUID.source})`, 'm'))?.[1];
  if (!id) throw new Error(`no run id in:\n${stdout}`);
  return id;
}

/** What went wrong while a page loaded and settled: each problem as one readable line. */
async function problemsLoading(page: Page, path: string, settled?: (page: Page) => Promise<unknown>) {
  const problems: string[] = [];
  const origin = new URL(baseUrl).origin;
  // Anything bound elsewhere is refused here and reported: offline it would fail anyway.
  await page.route(
    (url) => url.origin !== origin,
    (route) => {
      problems.push(`request leaves the server: ${route.request().url()}`);
      return route.abort();
    },
  );
  page.on('requestfailed', (request) => {
    if (new URL(request.url()).origin === origin) {
      problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`);
    }
  });
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`${response.status()} for ${response.url()}`);
  });
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`script error: ${error.message}`));
  await page.goto(`${baseUrl}${path}`, { waitUntil: 'networkidle' });
  await settled?.(page);
  return problems;
}

describe('the dashboard offline', () => {
  const pages = () => [
    '/',
    '/status',
    '/runs',
    `/runs/${inProcessRun}`,
    `/runs/${workerRun}`,
    '/assets/traffic',
    '/assets/descriptive_statistics',
    '/automation',
  ];

  it(
    'loads every page of its own without a request elsewhere, a failed request or a console error',
    async () => {
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      try {
        for (const path of pages()) {
          const page = await context.newPage();
          const problems = await problemsLoading(page, path);
          expect(problems, path).toEqual([]);
          // The page names its icon, and the icon answers.
          await expect(page.locator('link[rel="icon"]').getAttribute('href')).resolves.toBe(
            '/static/favicon.svg',
          );
          await page.close();
        }
      } finally {
        await context.close();
      }
    },
    TIMEOUT,
  );

  it(
    "loads Bull Board's overview and queue pages without Google Fonts or any other request elsewhere",
    async () => {
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      try {
        const overview = await context.newPage();
        const onOverview = await problemsLoading(overview, '/queues', (page) =>
          page.locator('nav a[title="assets"]').waitFor(),
        );
        expect(onOverview).toEqual([]);
        await overview.close();

        const queue = await context.newPage();
        const onQueue = await problemsLoading(queue, '/queues/queue/assets?status=completed', (page) =>
          page.getByText(`${workerRun}.channels`).first().waitFor(),
        );
        expect(onQueue).toEqual([]);
        await queue.close();
      } finally {
        await context.close();
      }
    },
    TIMEOUT,
  );

  it('answers /favicon.ico with the SVG icon', async () => {
    const response = await fetch(`${baseUrl}/favicon.ico`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    await expect(response.text()).resolves.toMatch(/^<svg /);
  });
});
