import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SENSOR_ID } from '../../engine/sensor.ts';
import { TickStore } from '../../engine/ticks.ts';
import { SCHEDULER_ID } from '../../queues/catalog.ts';
import { connectRedis } from '../../queues/connection.ts';
import { openQueues, type PipelineQueues } from '../../queues/queues.ts';
import { upsertSchedules } from '../../queues/schedule.ts';
import { launchChromium } from '../support/browser.ts';
import { REPO_ROOT } from '../support/cli.ts';
import { postForm, toyDashboards } from '../support/dashboard.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { deleteRedisKeys } from '../support/processes.ts';
import { redisUrl } from '../support/urls.ts';

/**
 * The automation page: the schedulers with their state and next fire time, Pause and Resume
 * (CSRF-checked, refused read-only, changing the schedulers row and BullMQ's scheduler alike),
 * and the latest ticks with their files and runs — over HTTP, then clicked through in Chromium.
 * Ticks are recorded directly: no worker runs.
 */

const PREFIX = `test-dashboard-automation-${randomUUID()}`;
/** Screenshots for a human to look at; git-ignored. */
const ARTIFACTS = join(REPO_ROOT, 'tests/artifacts/dashboard');
const TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/;
const SCRIPT_FILE = 'traffic/<script>alert(1)</script>.csv';

let database: TestDatabase;
let redis: Redis;
let queues: PipelineQueues;
let ticks: TickStore;
const dashboards = toyDashboards(() => ({ database, queues }));

beforeAll(async () => {
  database = await createTestDatabase();
  redis = await connectRedis(redisUrl());
  queues = openQueues(redis, PREFIX);
  ticks = new TickStore(database.sql);
});

beforeEach(async () => {
  // Every test starts with both schedulers defined and running.
  await database.sql`delete from schedulers`;
  await upsertSchedules(queues.schedule, ticks, { sensorIntervalSeconds: 2 });
});

afterEach(async () => {
  await dashboards.closeAll();
});

afterAll(async () => {
  await queues?.schedule.obliterate({ force: true });
  await queues?.close();
  redis?.disconnect();
  await deleteRedisKeys(redisUrl(), PREFIX);
  await database?.drop();
});

/** The automation page with the CSRF token its buttons carry and the cookie that goes with it. */
async function automationPage(url: string) {
  const response = await fetch(`${url}/automation`);
  const body = await response.text();
  const token = /name="_csrf" value="([^"]+)"/.exec(body)?.[1];
  const cookie = response.headers
    .getSetCookie()
    .map((line) => line.split(';')[0] ?? '')
    .find((pair) => pair.startsWith('pipeline.csrf='));
  return { status: response.status, body, token, cookie };
}

function post(url: string, id: string, action: string, token?: string, cookie?: string) {
  return postForm(url, `/automation/${encodeURIComponent(id)}/${action}`, token, cookie);
}

const pausedRow = async (id: string) =>
  (await database.sql<{ paused: boolean }[]>`select paused from schedulers where id = ${id}`)[0]?.paused;
const inBullMq = async (id: string) => Boolean(await queues.schedule.getJobScheduler(id));

describe('pause and resume over HTTP', () => {
  it('offers both buttons, and refuses a POST without a valid CSRF token, changing nothing', async () => {
    const { url } = await dashboards.serve();
    const { body, token, cookie } = await automationPage(url);
    expect(body).toContain(`id="pause-${SCHEDULER_ID}"`);
    expect(body).toContain(`id="pause-${SENSOR_ID}"`);
    for (const refused of [
      await post(url, SENSOR_ID, 'pause'),
      await post(url, SENSOR_ID, 'pause', 'forged', cookie),
      await post(url, SENSOR_ID, 'pause', token),
    ]) {
      expect(refused.status).toBe(403);
    }
    expect(await pausedRow(SENSOR_ID)).toBe(false);
    expect(await inBullMq(SENSOR_ID)).toBe(true);
  });

  it('pauses and resumes: the schedulers row and the BullMQ scheduler follow, and the answer is a 303 back', async () => {
    const { url } = await dashboards.serve();
    const { token, cookie } = await automationPage(url);
    const paused = await post(url, SENSOR_ID, 'pause', token, cookie);
    expect(paused.status).toBe(303);
    expect(paused.headers.get('location')).toBe('/automation');
    expect(await pausedRow(SENSOR_ID)).toBe(true);
    expect(await inBullMq(SENSOR_ID)).toBe(false);
    // The other one is untouched.
    expect(await pausedRow(SCHEDULER_ID)).toBe(false);
    expect(await inBullMq(SCHEDULER_ID)).toBe(true);
    const shown = await automationPage(url);
    expect(shown.body).toContain(`id="resume-${SENSOR_ID}"`);

    const resumed = await post(url, SENSOR_ID, 'resume', token, cookie);
    expect(resumed.status).toBe(303);
    expect(await pausedRow(SENSOR_ID)).toBe(false);
    expect(await inBullMq(SENSOR_ID)).toBe(true);
  });

  it('answers 404 for a scheduler that is not one of the pipeline’s, or not created', async () => {
    const { url } = await dashboards.serve();
    const { token, cookie } = await automationPage(url);
    const unknown = await post(url, 'no-such-scheduler', 'pause', token, cookie);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain('no scheduler &#39;no-such-scheduler&#39;');

    await ticks.forgetScheduler(SENSOR_ID);
    await queues.schedule.removeJobScheduler(SENSOR_ID);
    const page = await automationPage(url);
    expect(page.body).toContain('not created: run <code>npx pipeline schedule</code>');
    expect(page.body).not.toContain(`id="pause-${SENSOR_ID}"`);
    expect((await post(url, SENSOR_ID, 'pause', token, cookie)).status).toBe(404);
    expect(await pausedRow(SENSOR_ID)).toBeUndefined();
    expect(await inBullMq(SENSOR_ID)).toBe(false);
  });

  it('read-only: no buttons (the page says why) and a POST is refused', async () => {
    const writable = await dashboards.serve();
    const form = await automationPage(writable.url);
    const { url } = await dashboards.serve({ readOnly: true });
    const page = await automationPage(url);
    expect(page.status).toBe(200);
    expect(page.body).toContain('read-only dashboard: pausing and resuming are off');
    expect(page.body).not.toContain('_csrf');
    expect(page.body).not.toContain('<form');
    expect((await post(url, SENSOR_ID, 'pause', form.token, form.cookie)).status).toBe(403);
    expect(await pausedRow(SENSOR_ID)).toBe(false);
    expect(await inBullMq(SENSOR_ID)).toBe(true);
  });

  it('without Redis: the schedulers’ state from PostgreSQL, no buttons, no fire times', async () => {
    const { url } = await dashboards.serve({ queues: undefined });
    const page = await automationPage(url);
    expect(page.body).toContain('pausing and resuming from here needs Redis: set REDIS_URL');
    expect(page.body).toContain('needs Redis');
    expect(page.body).not.toContain('<form');
    expect((await post(url, SENSOR_ID, 'pause')).status).toBe(403);
  });
});

describe('in Chromium', () => {
  let browser: Browser | undefined;

  afterAll(async () => {
    await browser?.close();
  });

  it('lists the schedulers and the ticks newest first, escaped, and pauses and resumes the sensor', async () => {
    const [run] = await database.sql<{ id: string }[]>`
      insert into runs (trigger, selection, executor, status, started_at, finished_at)
      values ('sensor', '*', 'bullmq', 'succeeded', now(), now()) returning id`;
    const runId = run?.id ?? '';
    const tick = { jobId: randomUUID(), firedAt: new Date(), filesSeen: 3, runId: null };
    // Recorded oldest first: the page shows them the other way round.
    await ticks.record({
      ...tick,
      schedulerId: SENSOR_ID,
      outcome: 'started',
      message: 'started a run for 8 new files',
      filesSeen: 8,
      // More than the page lists: the rest fold away under "3 more".
      files: ['customers', 'traffic'].flatMap((source) =>
        ['2026-08', '2026-09', '2026-10', '2026-11'].map((month) => ({
          name: `${source}/${month}.csv`,
          fingerprint: month,
          change: 'new' as const,
        })),
      ),
      runId,
    });
    await ticks.record({
      ...tick,
      jobId: randomUUID(),
      schedulerId: SCHEDULER_ID,
      outcome: 'refused',
      message: 'refused: the run would read missing partitions: traffic[2026-12]',
      filesSeen: null,
      files: [],
    });
    await ticks.record({
      ...tick,
      jobId: randomUUID(),
      schedulerId: SENSOR_ID,
      outcome: 'waiting',
      message: `waiting for ${SCRIPT_FILE} to settle`,
      files: [{ name: SCRIPT_FILE, fingerprint: 'c', change: 'settling' }],
    });

    const { url } = await dashboards.serve();
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    let dialogs = 0;
    page.on('dialog', (dialog) => {
      dialogs += 1;
      void dialog.dismiss();
    });
    await page.goto(`${url}/automation`);

    const row = (id: string) => page.locator(`#schedulers tr[data-scheduler="${id}"]`);
    expect(await page.locator('#schedulers tr[data-scheduler]').count()).toBe(2);
    for (const id of [SCHEDULER_ID, SENSOR_ID]) {
      expect((await row(id).locator('.state').textContent())?.trim()).toBe('running');
      expect((await row(id).locator('.next').textContent())?.trim()).toMatch(TIME);
    }
    // The 1st of a month at 09:00 UTC.
    expect(await row(SCHEDULER_ID).locator('.next').textContent()).toMatch(/-01 09:00:00Z$/);
    expect(await row(SENSOR_ID).textContent()).toContain('every 2 s');

    const tickRows = page.locator('#ticks tr[data-tick]');
    const texts = await tickRows.allTextContents();
    expect(texts).toHaveLength(3);
    expect(texts[0]).toContain(`settling ${SCRIPT_FILE}`);
    expect(texts[0]).toContain('waiting');
    expect(texts[1]).toContain('refused');
    expect(texts[1]).toContain('traffic[2026-12]');
    expect(texts[2]).toContain('new traffic/2026-11.csv');
    expect(texts[2]).toContain('3 more');
    expect(await tickRows.nth(2).locator('details').isVisible()).toBe(true);
    expect(await tickRows.nth(2).getByText('new traffic/2026-11.csv').isVisible()).toBe(false);
    expect(texts[2]).toContain('succeeded');
    // The file name is text, not markup: no script element, no alert.
    expect(await page.locator('script').count()).toBe(0);
    expect(dialogs).toBe(0);

    await page.locator(`#ticks a[href="/runs/${runId}"]`).click();
    await page.waitForURL(`${url}/runs/${runId}`);
    expect((await page.locator('#run-status').textContent())?.trim()).toBe('succeeded');
    await page.goBack();

    await row(SENSOR_ID).getByRole('button', { name: 'Pause' }).click();
    await page.locator(`#resume-${SENSOR_ID}`).waitFor();
    expect((await row(SENSOR_ID).locator('.state').textContent())?.trim()).toBe('paused');
    expect((await row(SENSOR_ID).locator('.next').textContent())?.trim()).toBe('—');
    expect((await row(SCHEDULER_ID).locator('.state').textContent())?.trim()).toBe('running');
    expect(await inBullMq(SENSOR_ID)).toBe(false);
    expect(await pausedRow(SENSOR_ID)).toBe(true);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'automation.png'), fullPage: true });

    await row(SENSOR_ID).getByRole('button', { name: 'Resume' }).click();
    await page.locator(`#pause-${SENSOR_ID}`).waitFor();
    expect((await row(SENSOR_ID).locator('.state').textContent())?.trim()).toBe('running');
    expect((await row(SENSOR_ID).locator('.next').textContent())?.trim()).toMatch(TIME);
    expect(await inBullMq(SENSOR_ID)).toBe(true);
    expect(await pausedRow(SENSOR_ID)).toBe(false);
    await context.close();
  }, 120_000);
});
