import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TOY_TABLES_SQL, assets as toyAssets } from '../fixtures/toy-assets.ts';
import { launchChromium } from '../support/browser.ts';
import { type CliChild, REPO_ROOT, startCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { deleteRedisKeys, freePort, waitFor } from '../support/processes.ts';
import { redisUrl, serverUrl, withDatabase } from '../support/urls.ts';

/**
 * The dashboard in a real browser: a `pipeline dashboard` and a `pipeline worker` subprocess on
 * this file's own database and queue prefix, driven through Debian's Chromium with playwright-core
 * the way a user clicks through it: the asset graph, materializing from the form, the run page
 * refreshing itself to success, and Bull Board's Retry on a failed job resuming its run.
 */

const TOY_ASSETS = join(REPO_ROOT, 'tests/fixtures/toy-assets.ts');
const TOY_KEYS = toyAssets.map((asset) => asset.key).sort();
const PREFIX = `test-dashboard-${randomUUID()}`;
/** Screenshots for a human to look at; git-ignored. */
const ARTIFACTS = join(REPO_ROOT, 'tests/artifacts/dashboard');
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
/** The node that fails while FAIL_FILE exists (the toy assets' TOY_FAIL_WHILE toggle). */
const FAILING_PARTITION = '2025-02';
const FAILING_NODE = `joined[${FAILING_PARTITION}]`;
const TEST_TIMEOUT = 180_000;

let database: TestDatabase;
let databaseUrl: string;
let baseUrl: string;
let dashboard: CliChild;
let worker: CliChild;
let browser: Browser;
let context: BrowserContext | undefined;
const scratch = mkdtempSync(join(tmpdir(), 'pipeline-dashboard-browser-'));
const FAIL_FILE = join(scratch, 'joined-is-broken');

beforeAll(async () => {
  database = await createTestDatabase();
  databaseUrl = withDatabase(serverUrl(), database.name);
  await database.sql.unsafe(TOY_TABLES_SQL);
  writeFileSync(FAIL_FILE, 'remove me to fix joined\n');
  const env = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl(),
    QUEUE_PREFIX: PREFIX,
    PIPELINE_ASSETS: TOY_ASSETS,
    DASHBOARD_USER: undefined,
    DASHBOARD_PASSWORD: undefined,
    DASHBOARD_READ_ONLY: undefined,
    LOG_LEVEL: 'info',
  };
  const port = await freePort();
  dashboard = startCli(['dashboard', '--port', String(port)], { env });
  // Each node sleeps a little so a run lasts long enough to watch its page refresh itself.
  worker = startCli(['worker', '--concurrency', '2'], {
    env: { ...env, TOY_SLEEP_MS: '250', TOY_FAIL: FAILING_NODE, TOY_FAIL_WHILE: FAIL_FILE },
  });
  await dashboard.waitForStdout(new RegExp(`^dashboard on http://127\\.0\\.0\\.1:${port} `, 'm'));
  await worker.waitForStdout(/^worker ready: 7 assets/m);
  baseUrl = `http://127.0.0.1:${port}`;
  browser = await launchChromium();
});

afterEach(async () => {
  await context?.close();
  context = undefined;
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([dashboard?.stop(20_000), worker?.stop(20_000)]);
  await deleteRedisKeys(redisUrl(), PREFIX);
  await database?.drop();
  rmSync(scratch, { recursive: true, force: true });
});

/** A fresh browser context (no cookies) whose page may only talk to the dashboard (Bull Board links web fonts). */
async function openPage(): Promise<Page> {
  context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.route('**/*', (route) =>
    route.request().url().startsWith(baseUrl) ? route.continue() : route.abort(),
  );
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  return page;
}

/** What the processes printed, for failure messages. */
function processOutput(): string {
  return `dashboard stdout:\n${dashboard.stdout()}\ndashboard stderr:\n${dashboard.stderr()}\nworker stderr:\n${worker.stderr()}\nworker stdout (tail):\n${worker.stdout().slice(-4000)}`;
}

/** Fills the materialize form on `/` and submits it; returns the run id the browser was redirected to. */
async function materializeFromForm(page: Page, selection: string, partition: string): Promise<string> {
  await page.goto(`${baseUrl}/`);
  const form = page.locator('form#materialize');
  await form.locator('input[name=selection]').fill(selection);
  await form.locator('input[name=partition]').fill(partition);
  await Promise.all([
    page.waitForURL(new RegExp(`^${baseUrl}/runs/${UUID.source}$`)),
    form.getByRole('button', { name: 'Materialize' }).click(),
  ]);
  const runId = page.url().match(UUID)?.[0];
  if (!runId) throw new Error(`not redirected to a run page: ${page.url()}`);
  return runId;
}

/** The run page's status, or undefined while it is being reloaded. */
async function shownStatus(page: Page): Promise<string | undefined> {
  try {
    return (await page.locator('#run-status').textContent({ timeout: 5_000 }))?.trim();
  } catch {
    return undefined;
  }
}

async function runRow(runId: string) {
  const [run] = await database.sql<
    { status: string; trigger: string; selection: string; partition_from: string }[]
  >`
    select status, trigger, selection, partition_from from runs where id = ${runId}`;
  return run;
}

async function nodeStatuses(runId: string): Promise<Record<string, string>> {
  const rows = await database.sql<{ node: string; status: string }[]>`
    select case when partition_key = '' then asset_key else asset_key || '[' || partition_key || ']' end as node, status
    from run_nodes where run_id = ${runId}`;
  return Object.fromEntries(rows.map((row) => [row.node, row.status]));
}

/** Waits (up to 2 minutes) for the run to reach `status`; a timeout shows its nodes and the processes' output. */
async function runReaches(runId: string, status: string): Promise<void> {
  await waitFor(`run ${runId} to be ${status}`, async () => (await runRow(runId))?.status === status, {
    timeoutMs: 120_000,
    intervalMs: 250,
    detail: async () => `${JSON.stringify(await nodeStatuses(runId))}\n${processOutput()}`,
  });
}

/** The nodes table of a run page: node id → data-status. */
async function pageNodeStatuses(page: Page): Promise<Record<string, string>> {
  const rows = page.locator('#nodes tr[data-node]');
  const pairs = await rows.evaluateAll((elements) =>
    elements.map((element) => [
      element.getAttribute('data-node') ?? '',
      element.getAttribute('data-status') ?? '',
    ]),
  );
  return Object.fromEntries(pairs);
}

describe('dashboard in a browser', () => {
  it(
    'draws the asset graph as SVG with one linked node per asset',
    async () => {
      const page = await openPage();
      const response = await page.goto(`${baseUrl}/`);
      expect(response?.status()).toBe(200);
      await expect(page.title()).resolves.toBe('Assets · asset-pipeline');
      const graph = page.locator('svg#asset-graph');
      await graph.waitFor();
      const nodes = graph.locator('a.asset');
      await expect(nodes.count()).resolves.toBe(toyAssets.length);
      const keys = await nodes.evaluateAll((elements) => elements.map((e) => e.getAttribute('data-asset')));
      expect(keys.sort()).toEqual(TOY_KEYS);
      // The groups are drawn as labelled boxes and the dependencies as edges.
      await expect(graph.locator('g.group').count()).resolves.toBe(
        new Set(toyAssets.map((a) => a.group)).size,
      );
      await expect(graph.locator('path[marker-end]').count()).resolves.toBeGreaterThanOrEqual(7);
      // The node is really drawn (has a size on screen) and clicking it opens the asset page.
      const joined = graph.locator('a.asset[data-asset="joined"]');
      const box = await joined.boundingBox();
      expect(box?.width).toBeGreaterThan(50);
      await Promise.all([page.waitForURL(`${baseUrl}/assets/joined`), joined.click()]);
      await expect(page.locator('h1').textContent()).resolves.toBe('joined');
      await expect(page.locator('main').textContent()).resolves.toContain('toy asset joined');
      // Lineage both ways: left and right upstream, summary downstream.
      const upstream = await page.locator('tr:has(th:text-is("upstream")) a').allTextContents();
      const downstream = await page.locator('tr:has(th:text-is("downstream")) a').allTextContents();
      expect(upstream.sort()).toEqual(['left', 'right']);
      expect(downstream).toEqual(['summary']);
    },
    TEST_TIMEOUT,
  );

  it(
    'materializes from the form and the run page refreshes itself until the run succeeded',
    async () => {
      const page = await openPage();
      const runId = await materializeFromForm(page, '*', '2025-01');
      const loads: string[] = [];
      page.on('load', () => loads.push(page.url()));
      const first = await shownStatus(page);
      expect(['queued', 'running', 'succeeded']).toContain(first);

      // The test never reloads: the page's own meta refresh brings the new status.
      const final = await waitFor(
        `run ${runId} page to show a finished status`,
        async () => {
          const status = await shownStatus(page);
          return status === 'succeeded' || status === 'failed' ? status : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 250, detail: processOutput },
      );
      expect(final).toBe('succeeded');
      if (first !== 'succeeded') expect(loads.length).toBeGreaterThan(0);
      expect(loads.every((url) => url === `${baseUrl}/runs/${runId}`)).toBe(true);

      const shown = await pageNodeStatuses(page);
      expect(Object.keys(shown).sort()).toEqual(
        ['daily', 'joined', 'left', 'right', 'rolling']
          .map((key) => `${key}[2025-01]`)
          .concat('source', 'summary')
          .sort(),
      );
      expect(new Set(Object.values(shown))).toEqual(new Set(['succeeded']));
      // A finished run's page no longer refreshes.
      await expect(page.locator('meta[http-equiv="refresh"]').count()).resolves.toBe(0);

      await expect(runRow(runId)).resolves.toEqual({
        status: 'succeeded',
        trigger: 'dashboard',
        selection: '*',
        partition_from: '2025-01',
      });
      expect(new Set(Object.values(await nodeStatuses(runId)))).toEqual(new Set(['succeeded']));
      const [joined] = await database.sql<{ value: string }[]>`
        select value from toy_values where asset = 'joined' and partition = '2025-01'`;
      expect(Number(joined?.value)).toBeGreaterThan(1);

      // The graph now shows every asset as succeeded; keep a picture of it for a human to look at.
      await page.goto(`${baseUrl}/`);
      const statuses = await page
        .locator('svg#asset-graph a.asset')
        .evaluateAll((elements) => elements.map((e) => e.getAttribute('data-status')));
      expect(statuses).toHaveLength(toyAssets.length);
      expect(new Set(statuses)).toEqual(new Set(['succeeded']));
      await expect(page.locator('table#runs').textContent()).resolves.toContain(runId.slice(0, 8));
      mkdirSync(ARTIFACTS, { recursive: true });
      const screenshot = join(ARTIFACTS, 'graph.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      expect(statSync(screenshot).size).toBeGreaterThan(10_000);
    },
    TEST_TIMEOUT,
  );

  it(
    "retrying a failed job in Bull Board's UI resumes its run to success",
    async () => {
      writeFileSync(FAIL_FILE, 'remove me to fix joined\n');
      const page = await openPage();
      const runId = await materializeFromForm(page, '*', FAILING_PARTITION);
      const jobId = `${runId}.joined.${FAILING_PARTITION}`;

      // joined fails on every attempt while the file exists; its downstream waits.
      await runReaches(runId, 'failed');
      expect(await nodeStatuses(runId)).toMatchObject({ [FAILING_NODE]: 'failed', summary: 'pending' });
      await page.goto(`${baseUrl}/runs/${runId}`);
      await expect(shownStatus(page)).resolves.toBe('failed');
      const failedRow = page.locator(`#nodes tr[data-node="${FAILING_NODE}"]`);
      await expect(failedRow.getAttribute('data-status')).resolves.toBe('failed');
      await expect(failedRow.textContent()).resolves.toContain(`toy failure of ${FAILING_NODE}`);

      // Fix the cause, then find the job in Bull Board the way a user would and press Retry.
      rmSync(FAIL_FILE);
      await page.goto(`${baseUrl}/queues`);
      await expect(page.title()).resolves.toBe('asset-pipeline queues');
      await page.locator('nav a[title="assets"]').click();
      await page.waitForURL(/\/queues\/queue\/assets/);
      await page.locator('a[href*="/queues/queue/assets?status=failed"]').first().click();
      await page.waitForURL(/status=failed/);
      const card = page.locator('div[class*="card-"]', { hasText: jobId });
      await card.waitFor();
      // The formatter shows the node as the job's name and the run, asset and partition as data.
      await expect(card.textContent()).resolves.toContain(FAILING_NODE);
      const retry = card.locator('button:has(svg.lucide-refresh-cw)');
      await expect(retry.count()).resolves.toBe(1);
      // The icon button's tooltip names it.
      await retry.hover();
      await page.getByText('Retry', { exact: true }).filter({ visible: true }).waitFor({ timeout: 10_000 });
      await retry.click();
      const confirm = page.getByRole('button', { name: 'Confirm' });
      const [response] = await Promise.all([
        page.waitForResponse(
          (r) =>
            r.request().method() === 'PUT' && r.url().endsWith(`/queues/api/queues/assets/${jobId}/retry`),
        ),
        confirm.click(),
      ]);
      expect(response.status()).toBe(204);

      await runReaches(runId, 'succeeded');
      expect(new Set(Object.values(await nodeStatuses(runId)))).toEqual(new Set(['succeeded']));
      const [attempts] = await database.sql<{ attempts: number; error: string | null }[]>`
        select attempts, error from run_nodes where run_id = ${runId} and asset_key = 'joined'`;
      expect(attempts?.attempts).toBeGreaterThan(2);
      expect(attempts?.error).toBeNull();

      await page.goto(`${baseUrl}/runs/${runId}`);
      await expect(shownStatus(page)).resolves.toBe('succeeded');
      const shown = await pageNodeStatuses(page);
      expect(shown[FAILING_NODE]).toBe('succeeded');
      expect(shown.summary).toBe('succeeded');
    },
    TEST_TIMEOUT,
  );

  it(
    "the run page's Re-execute failed button resumes the run to success, and the failed attempts stay shown",
    async () => {
      writeFileSync(FAIL_FILE, 'remove me to fix joined\n');
      const page = await openPage();
      const runId = await materializeFromForm(page, '*', FAILING_PARTITION);
      await runReaches(runId, 'failed');
      await page.goto(`${baseUrl}/runs/${runId}`);
      await expect(shownStatus(page)).resolves.toBe('failed');
      await expect(page.locator('form#cancel').count()).resolves.toBe(0);

      rmSync(FAIL_FILE);
      await Promise.all([
        page.waitForURL(`${baseUrl}/runs/${runId}`),
        page.locator('form#reexecute').getByRole('button', { name: 'Re-execute failed' }).click(),
      ]);
      await runReaches(runId, 'succeeded');
      await page.goto(`${baseUrl}/runs/${runId}`);
      await expect(shownStatus(page)).resolves.toBe('succeeded');
      expect(new Set(Object.values(await pageNodeStatuses(page)))).toEqual(new Set(['succeeded']));
      await expect(page.locator('form#reexecute').count()).resolves.toBe(0);
      // The attempts that failed before the fix are still on the page, each with its error.
      const failedAttempts = page.locator(`#attempts tr[data-node="${FAILING_NODE}"]`);
      await expect(failedAttempts.count()).resolves.toBeGreaterThanOrEqual(2);
      await expect(failedAttempts.first().textContent()).resolves.toContain(`toy failure of ${FAILING_NODE}`);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'run-reexecuted.png'), fullPage: true });
    },
    TEST_TIMEOUT,
  );

  it(
    "the status grid shows every asset's months, each cell linking to its run; asset pages have their strip",
    async () => {
      // A month whose joined fails (the toggle file is back), after the earlier tests' good months.
      writeFileSync(FAIL_FILE, 'remove me to fix joined\n');
      const page = await openPage();
      const runId = await materializeFromForm(page, '*', FAILING_PARTITION);
      await runReaches(runId, 'failed');
      // The dashboard shares one computation of the state for 2 s: reload until it shows the failure.
      const grid = page.locator('#status-grid');
      await waitFor('the status page to show the failure', async () => {
        await page.goto(`${baseUrl}/status`);
        return (await grid.locator(`a[data-node="${FAILING_NODE}"]`).getAttribute('data-state')) === 'failed';
      });
      const rows = await grid
        .locator('tr[data-asset]')
        .evaluateAll((elements) => elements.map((element) => element.getAttribute('data-asset')));
      expect(rows.sort()).toEqual(TOY_KEYS);
      const failedCell = grid.locator(`a[data-node="${FAILING_NODE}"]`);
      await expect(failedCell.getAttribute('data-state')).resolves.toBe('failed');
      await expect(failedCell.getAttribute('href')).resolves.toBe(`/runs/${runId}`);
      // Downstream of the failure: summary reads every month of joined, and its month's value is missing now.
      await expect(grid.locator('a[data-node="daily[2025-02]"]').getAttribute('data-state')).resolves.toBe(
        'materialized',
      );
      await expect(page.locator('#reasons').textContent()).resolves.toContain(
        `toy failure of ${FAILING_NODE}`,
      );
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'status.png'), fullPage: true });
      await Promise.all([page.waitForURL(`${baseUrl}/runs/${runId}`), failedCell.click()]);
      await expect(shownStatus(page)).resolves.toBe('failed');

      await page.goto(`${baseUrl}/assets/joined`);
      const strip = page.locator('#partition-strip');
      await expect(strip.locator(`a[data-node="${FAILING_NODE}"]`).getAttribute('data-state')).resolves.toBe(
        'failed',
      );
      await page.screenshot({ path: join(ARTIFACTS, 'asset-joined.png'), fullPage: true });
      // The graph counts each asset's partitions that need work.
      await page.goto(`${baseUrl}/`);
      await expect(page.locator('a.asset[data-asset="joined"]').getAttribute('data-failed')).resolves.toBe(
        '1',
      );
      await page.screenshot({ path: join(ARTIFACTS, 'graph-with-state.png'), fullPage: true });
      rmSync(FAIL_FILE);
    },
    TEST_TIMEOUT,
  );
});
