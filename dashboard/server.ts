import { randomBytes } from 'node:crypto';
import { type Server, STATUS_CODES } from 'node:http';
import cookieParser from 'cookie-parser';
import { doubleCsrf } from 'csrf-csrf';
import express, { type NextFunction, type Request, type Response } from 'express';
import basicAuth from 'express-basic-auth';
import type { PipelineConfig } from '../assets/config.ts';
import { assetState } from '../engine/asset-state.ts';
import type { Database } from '../engine/database.ts';
import { PartitionRequiredError, PipelineError } from '../engine/errors.ts';
import { launchRun, reexecuteRun } from '../engine/executor.ts';
import type { AssetGraph } from '../engine/graph.ts';
import { DEFAULT_MAX_PARTITIONS, partitionKeys } from '../engine/plan.ts';
import { RunHistory } from '../engine/run-history.ts';
import { RunStore } from '../engine/run-store.ts';
import { selectAssets } from '../engine/selection.ts';
import { planFromState, RunRefused, type StateSelection } from '../engine/state-plan.ts';
import { TickStore } from '../engine/ticks.ts';
import { BullMqExecutor } from '../queues/bullmq-executor.ts';
import type { PipelineQueues } from '../queues/queues.ts';
import { nextFireTime, SCHEDULER_IDS, setSchedulerPaused } from '../queues/schedule.ts';
import { bullBoardRouter } from './bull-board.ts';
import { layoutGraph } from './graph-layout.ts';
import { html } from './html.ts';
import { field, HttpError, pageNumber } from './http-input.ts';
import { page } from './layout.ts';
import { assetPage } from './pages/asset.ts';
import { graphSvg } from './pages/assets-graph.ts';
import { automationPage } from './pages/automation.ts';
import { materializeForm } from './pages/materialize-form.ts';
import { runPage, runsPage } from './pages/runs.ts';
import { partitionStrip, problemCounts, statusGrid } from './pages/status.ts';
import {
  type AuthLimit,
  failedAuthLimiter,
  hostGuard,
  jsonBodyOnly,
  LOOPBACK_HOSTS,
  sameOriginGuard,
} from './request-guards.ts';
import { staticFiles } from './static-files.ts';

export type DashboardOptions = {
  graph: AssetGraph<PipelineConfig>;
  database: Database;
  /** The assets' config: where the landing files are, for the state of every partition. */
  config: PipelineConfig;
  /** Without queues (no Redis), Bull Board and materializing are off and the pages say how to enable them. */
  queues?: PipelineQueues;
  auth?: { user: string; password: string };
  readOnly: boolean;
  /** The host names it answers to (any port); 'any' takes every Host. Default: loopback's names. */
  allowedHosts?: readonly string[] | 'any';
  /** The most months a run or the status grid may cover. */
  maxPartitions?: number;
  /** Failed basic-auth attempts a client may make per window. */
  authLimit?: AuthLimit;
};

const RUNS_PER_PAGE = 50;
const TICKS_SHOWN = 50;
/** The last page number a runs page accepts (larger is a 400, not a query with a huge offset). */
const MAX_PAGE = 1_000_000;
/** How long the pages share one computation of the asset state. */
const STATE_TTL_MS = 2_000;
/** Pages look for runs whose executor went silent at most this often. */
const REAP_EVERY_MS = 2_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The dashboard as an Express app: pages server-rendered from Postgres, Bull Board at /queues. */
export function createDashboard(options: DashboardOptions): express.Express {
  const { graph, database, queues } = options;
  const store = new RunStore(database.sql);
  const history = new RunHistory(database);
  const ticks = new TickStore(database.sql);
  const executor = queues ? new BullMqExecutor(queues.assets, graph) : undefined;
  const layout = layoutGraph(graph);
  // The whole graph's state, shared by the pages asking within STATE_TTL_MS (a page reloading
  // itself every few seconds must not list the landing zone and read the history each time).
  let cached: { at: number; grid: ReturnType<typeof assetState> } | undefined;
  const state = (range?: { from: string; to: string }) => {
    if (range) return assetState({ database, graph, config: options.config, range });
    if (!cached || Date.now() - cached.at > STATE_TTL_MS) {
      const grid = assetState({ database, graph, config: options.config });
      grid.catch(() => {
        cached = undefined;
      });
      cached = { at: Date.now(), grid };
    }
    return cached.grid;
  };
  const partitioned = (key: string) => Boolean(graph.get(key).partitions);
  const maxPartitions = options.maxPartitions ?? DEFAULT_MAX_PARTITIONS;
  const app = express();
  app.disable('x-powered-by');
  // Before anything else, Bull Board included: a foreign Host, then (below) cross-site writes.
  const hosts = options.allowedHosts ?? LOOPBACK_HOSTS;
  app.use(hostGuard(hosts === 'any' ? undefined : hosts));
  // Every route, Bull Board and its API included, is behind basic auth when it is configured.
  if (options.auth) {
    app.use(failedAuthLimiter(options.authLimit));
    app.use(
      basicAuth({
        users: { [options.auth.user]: options.auth.password },
        challenge: true,
        realm: 'asset-pipeline',
      }),
    );
  }
  const secret = randomBytes(32).toString('hex');
  const { generateCsrfToken, doubleCsrfProtection } = doubleCsrf({
    getSecret: () => secret,
    // One user (basic auth or loopback): the token is bound to the browser's cookie alone.
    getSessionIdentifier: () => 'dashboard',
    cookieName: 'pipeline.csrf',
    cookieOptions: { sameSite: 'strict', secure: false, httpOnly: true, path: '/' },
    getCsrfTokenFromRequest: (req) => (req.body as Record<string, string> | undefined)?._csrf,
  });
  app.use(sameOriginGuard());
  app.use(staticFiles());
  app.use(cookieParser());
  // A run whose in-process executor died (a CLI killed mid-run) must not show as running: the
  // pages that show runs look for those first.
  let reapedAt = 0;
  app.use((req, _res, next) => {
    if (req.method !== 'GET' || Date.now() - reapedAt < REAP_EVERY_MS) return next();
    reapedAt = Date.now();
    store.reapLostRuns().then(() => next(), next);
  });
  const canMaterialize = Boolean(queues) && !options.readOnly;
  const view = (title: string, refreshSeconds?: number) => ({
    title,
    refreshSeconds,
    queues: Boolean(queues),
  });
  const form = (req: Request, res: Response, selection?: string) =>
    canMaterialize ? materializeForm(generateCsrfToken(req, res), selection) : undefined;

  app.get('/', async (req, res) => {
    const [states, recent, grid] = await Promise.all([
      history.assetActivity(graph.keys),
      history.listRuns(10),
      state(),
    ]);
    const counts = new Map(graph.keys.map((key) => [key, problemCounts(grid, key, partitioned(key))]));
    const busy = [...states.values()].some((s) => s.status === 'running' || s.status === 'queued');
    res.send(
      page(
        view('Assets', busy ? 3 : undefined),
        html`<div class="graph">${graphSvg(graph, layout, states, counts)}</div>
        <h2>Materialize</h2>${form(req, res) ?? html`<p class="muted">${queues ? 'read-only dashboard' : 'materializing from here needs Redis and a worker: set REDIS_URL'}</p>`}
        <h2>Recent runs</h2>${runsPage(recent, 1, false)}`,
      ),
    );
  });

  app.get('/assets/:key', async (req, res) => {
    const key = req.params.key;
    if (!graph.has(key)) return notFound(res, `no asset '${key}'`, Boolean(queues));
    const definition = graph.get(key);
    const [materializations, checks, preview, grid] = await Promise.all([
      history.materializationHistory(key),
      history.latestChecks(key),
      definition.preview?.(database.sql),
      state(),
    ]);
    res.send(
      page(
        view(key),
        assetPage({
          definition,
          preview,
          upstream: graph.upstreamOf(key),
          downstream: graph.downstreamOf(key),
          history: materializations,
          checks,
          strip: partitionStrip(grid, key, partitioned(key)),
          form: form(req, res, `+${key}`),
        }),
      ),
    );
  });

  app.get('/status', async (req, res) => {
    const query = req.query as Record<string, unknown>;
    const from = field(query, 'from');
    const to = field(query, 'to');
    let range: { from: string; to: string } | undefined;
    try {
      range = from && to ? { from, to } : undefined;
      if (range) partitionKeys(range.from, range.to, maxPartitions);
    } catch (error) {
      if (!(error instanceof PipelineError)) throw error;
      res.status(400).send(page(view('Status'), html`<p class="error">${error.message}</p>`));
      return;
    }
    const grid = await state(range);
    const months = range ? partitionKeys(range.from, range.to, maxPartitions) : grid.months;
    const what = grid.span
      ? html`the data's span: ${grid.span.first}…${grid.span.last}`
      : 'no landing files found';
    res.send(
      page(
        view('Status'),
        html`<p class="muted">${months[0] ?? ''}${months.length > 1 ? html`…${months.at(-1)}` : ''} (${what})</p>
        ${statusGrid(grid, graph.keys, partitioned, months)}`,
      ),
    );
  });

  app.get('/runs', async (req, res) => {
    const number = pageNumber(req.query as Record<string, unknown>, MAX_PAGE);
    const runs = await history.listRuns(RUNS_PER_PAGE + 1, (number - 1) * RUNS_PER_PAGE);
    const busy = runs.some((run) => run.status === 'running' || run.status === 'queued');
    res.send(
      page(
        view('Runs', busy ? 3 : undefined),
        runsPage(runs.slice(0, RUNS_PER_PAGE), number, runs.length > RUNS_PER_PAGE),
      ),
    );
  });

  app.get('/runs/:id', async (req, res) => {
    const id = req.params.id;
    const detail = UUID.test(id) ? await history.getRun(id) : undefined;
    if (!detail) return notFound(res, `no run '${id}'`, Boolean(queues));
    const { run, nodes } = detail;
    const live =
      run.status === 'running' || run.status === 'queued' || nodes.some((n) => n.status === 'running');
    const actions = options.readOnly
      ? undefined
      : {
          csrfToken: generateCsrfToken(req, res),
          // Re-executing needs the workers; canceling only the database.
          reexecute:
            Boolean(executor) &&
            (run.status === 'failed' || run.status === 'canceled') &&
            nodes.some((n) => n.status === 'failed' || n.status === 'canceled'),
          cancel: run.status === 'running' || run.status === 'queued',
        };
    res.send(page(view(`Run ${id.slice(0, 8)}`, live ? 2 : undefined), runPage(detail, actions)));
  });

  /** A run action: refused read-only (and without what it needs), CSRF-checked, then back to the run. */
  const runAction = (path: string, act: (runId: string) => Promise<unknown>, needsWorkers: boolean) =>
    app.post(
      `/runs/:id/${path}`,
      express.urlencoded({ extended: false, limit: '1kb' }),
      doubleCsrfProtection,
      async (req, res) => {
        const id = String(req.params.id);
        if (options.readOnly || (needsWorkers && !executor)) {
          res.status(403).send(page(view('Not allowed'), html`<p>This dashboard cannot change runs.</p>`));
          return;
        }
        if (!UUID.test(id)) return notFound(res, `no run '${id}'`, Boolean(queues));
        try {
          await act(id);
          res.redirect(303, `/runs/${id}`);
        } catch (error) {
          if (!(error instanceof PipelineError)) throw error;
          res
            .status(409)
            .send(
              page(
                view('Cannot do that'),
                html`<p class="error">${error.message}</p><p><a href="/runs/${id}">back to the run</a></p>`,
              ),
            );
        }
      },
    );
  runAction(
    'reexecute',
    (runId) => reexecuteRun(store, executor as BullMqExecutor<PipelineConfig>, runId),
    true,
  );
  runAction('cancel', (runId) => store.cancel(runId, 'canceled from the dashboard'), false);

  app.get('/automation', async (req, res) => {
    const [settings, recent] = await Promise.all([ticks.schedulers(), ticks.recent(TICKS_SHOWN)]);
    const schedulers = await Promise.all(
      SCHEDULER_IDS.map(async (id) => ({
        id,
        setting: settings.get(id),
        next: queues ? await nextFireTime(queues.schedule, id) : undefined,
      })),
    );
    res.send(
      page(
        view('Automation'),
        automationPage({
          schedulers,
          ticks: recent,
          queues: Boolean(queues),
          // Pausing changes BullMQ's schedulers as well as the row: it needs Redis.
          csrfToken: canMaterialize ? generateCsrfToken(req, res) : undefined,
          noButtons: queues
            ? 'read-only dashboard: pausing and resuming are off'
            : 'pausing and resuming from here needs Redis: set REDIS_URL',
        }),
      ),
    );
  });

  for (const [action, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    app.post(
      `/automation/:id/${action}`,
      express.urlencoded({ extended: false, limit: '1kb' }),
      doubleCsrfProtection,
      async (req, res) => {
        if (!queues || options.readOnly) {
          res
            .status(403)
            .send(page(view('Not allowed'), html`<p>This dashboard cannot pause or resume schedulers.</p>`));
          return;
        }
        const id = String(req.params.id);
        const known = (SCHEDULER_IDS as readonly string[]).includes(id);
        const setting = known ? await setSchedulerPaused(queues.schedule, ticks, id, paused) : undefined;
        if (!setting) {
          const why = known
            ? `scheduler '${id}' is not created: run npx pipeline schedule`
            : `no scheduler '${id}'`;
          return notFound(res, why, true);
        }
        res.redirect(303, '/automation');
      },
    );
  }

  app.post(
    '/materialize',
    express.urlencoded({ extended: false, limit: '10kb' }),
    doubleCsrfProtection,
    async (req, res) => {
      if (!queues || options.readOnly) {
        res.status(403).send(page(view('Not allowed'), html`<p>This dashboard cannot start runs.</p>`));
        return;
      }
      const body = req.body as Record<string, unknown>;
      const partition = field(body, 'partition');
      const [from, to] = [field(body, 'from'), field(body, 'to')];
      const range = partition ? { from: partition, to: partition } : from && to ? { from, to } : undefined;
      const selection = field(body, 'selection') ?? '';
      const only = stateSelection(field(body, 'only'));
      const upstream = stateSelection(field(body, 'upstream'));
      try {
        // Planning reads the state now, never the pages' shared copy.
        const grid = await assetState({ database, graph, config: options.config, range, maxPartitions });
        const { plan, warnings } = planFromState(graph, grid, {
          selected: selectAssets(graph, selection),
          range,
          only,
          upstream,
          maxPartitions,
        });
        if (plan.nodes.length === 0) {
          res.send(
            page(
              view('Nothing to materialize'),
              html`<p>Every selected partition is current.</p><p><a href="/">back</a></p>`,
            ),
          );
          return;
        }
        const { runId } = await launchRun(store, executor as BullMqExecutor<PipelineConfig>, {
          plan,
          trigger: 'dashboard',
          selection,
          config: { warnings },
          skipCurrent: only !== undefined,
        });
        res.redirect(303, `/runs/${runId}`);
      } catch (error) {
        if (!(error instanceof PipelineError)) throw error;
        const message =
          error instanceof PartitionRequiredError
            ? `${error.message}: give a partition, or a from and a to (or choose only missing or stale)`
            : error instanceof RunRefused
              ? `${error.message} — choose "add missing upstream" to materialize them in the same run`
              : error.message;
        res
          .status(400)
          .send(
            page(
              view('Cannot materialize'),
              html`<p class="error">${message}</p><p><a href="/">back</a></p>`,
            ),
          );
      }
    },
  );

  if (queues) app.use('/queues', jsonBodyOnly(), bullBoardRouter(queues, { readOnly: options.readOnly }));

  app.use((_req, res) => notFound(res, 'no such page', Boolean(queues)));
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof HttpError) {
      res.status(error.status).send(page(view('Bad request'), html`<p class="error">${error.message}</p>`));
      return;
    }
    const code = (error as { code?: string }).code;
    if (code === 'EBADCSRFTOKEN' || (error as { status?: number }).status === 403) {
      res
        .status(403)
        .send(
          page(
            view('Forbidden'),
            html`<p>The form expired or did not come from this dashboard: reload and try again.</p>`,
          ),
        );
      return;
    }
    // Express's own refusals (a body too large, a malformed path) keep their status and reason.
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const reason = STATUS_CODES[status] ?? 'Bad request';
      res.status(status).send(page(view(reason), html`<p class="error">${status}: ${reason}</p>`));
      return;
    }
    // Never show internals (URLs, stacks) to the browser; the server log has them.
    console.error(error);
    res
      .status(500)
      .send(
        page(
          view('Error'),
          html`<p class="error">Something went wrong; the dashboard's log has the details.</p>`,
        ),
      );
  });
  return app;
}

/** A form's "only" or "upstream" choice: missing, stale, or nothing. */
function stateSelection(value: string | undefined): StateSelection | undefined {
  return value === 'missing' || value === 'stale' ? value : undefined;
}

function notFound(res: Response, message: string, queues: boolean): void {
  res
    .status(404)
    .send(
      page({ title: 'Not found', queues }, html`<p>${message}</p><p><a href="/">back to the assets</a></p>`),
    );
}

/** Listens; without auth only on loopback (a dashboard that can start runs must not be open to the network). */
export async function listen(app: express.Express, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, () => resolve(server));
    server.once('error', reject);
  });
}
