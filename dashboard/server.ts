import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import cookieParser from 'cookie-parser';
import { doubleCsrf } from 'csrf-csrf';
import express, { type NextFunction, type Request, type Response } from 'express';
import basicAuth from 'express-basic-auth';
import type { PipelineConfig } from '../assets/config.ts';
import type { Database } from '../engine/database.ts';
import { PipelineError } from '../engine/errors.ts';
import type { AssetGraph } from '../engine/graph.ts';
import { planRun } from '../engine/plan.ts';
import { RunStore } from '../engine/run-store.ts';
import { selectAssets } from '../engine/selection.ts';
import type { PipelineQueues } from '../queues/queues.ts';
import { startQueuedRun } from '../queues/runs.ts';
import { bullBoardRouter } from './bull-board.ts';
import { layoutGraph } from './graph-layout.ts';
import { html } from './html.ts';
import { page } from './layout.ts';
import { assetPage } from './pages/asset.ts';
import { graphSvg } from './pages/assets-graph.ts';
import { materializeForm } from './pages/materialize-form.ts';
import { runPage, runsPage } from './pages/runs.ts';
import { assetStates, latestChecks, materializationHistory } from './queries.ts';

export type DashboardOptions = {
  graph: AssetGraph<PipelineConfig>;
  database: Database;
  /** Without queues (no Redis), Bull Board and materializing are off and the pages say how to enable them. */
  queues?: PipelineQueues;
  auth?: { user: string; password: string };
  readOnly: boolean;
};

const RUNS_PER_PAGE = 50;

/** The dashboard as an Express app: pages server-rendered from Postgres, Bull Board at /queues. */
export function createDashboard(options: DashboardOptions): express.Express {
  const { graph, database, queues } = options;
  const store = new RunStore(database.db);
  const layout = layoutGraph(graph);
  const app = express();
  app.disable('x-powered-by');
  // Every route, Bull Board and its API included, is behind basic auth when it is configured.
  if (options.auth) {
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
  app.use(cookieParser());
  const canMaterialize = Boolean(queues) && !options.readOnly;
  const view = (title: string, refreshSeconds?: number) => ({
    title,
    refreshSeconds,
    queues: Boolean(queues),
  });
  const form = (req: Request, res: Response, selection?: string) =>
    canMaterialize ? materializeForm(generateCsrfToken(req, res), selection) : undefined;

  app.get('/', async (req, res) => {
    const states = await assetStates(database.sql, graph.keys);
    const recent = await store.listRuns(10);
    const busy = [...states.values()].some((s) => s.status === 'running' || s.status === 'queued');
    res.send(
      page(
        view('Assets', busy ? 3 : undefined),
        html`<div class="graph">${graphSvg(graph, layout, states)}</div>
        <h2>Materialize</h2>${form(req, res) ?? html`<p class="muted">${queues ? 'read-only dashboard' : 'materializing from here needs Redis and a worker: set REDIS_URL'}</p>`}
        <h2>Recent runs</h2>${runsPage(recent, 1, false)}`,
      ),
    );
  });

  app.get('/assets/:key', async (req, res) => {
    const key = req.params.key;
    if (!graph.has(key)) return notFound(res, `no asset '${key}'`, Boolean(queues));
    const definition = graph.get(key);
    const [history, checks, preview] = await Promise.all([
      materializationHistory(database.sql, key),
      latestChecks(database.sql, key),
      definition.preview?.(database.sql),
    ]);
    res.send(
      page(
        view(key),
        assetPage({
          definition,
          preview,
          upstream: graph.upstreamOf(key),
          downstream: graph.downstreamOf(key),
          history,
          checks,
          form: form(req, res, `+${key}`),
        }),
      ),
    );
  });

  app.get('/runs', async (req, res) => {
    const pageNumber = Math.max(1, Number.parseInt(String(req.query.page ?? '1'), 10) || 1);
    const runs = await store.listRuns(RUNS_PER_PAGE + 1, (pageNumber - 1) * RUNS_PER_PAGE);
    const busy = runs.some((run) => run.status === 'running' || run.status === 'queued');
    res.send(
      page(
        view('Runs', busy ? 3 : undefined),
        runsPage(runs.slice(0, RUNS_PER_PAGE), pageNumber, runs.length > RUNS_PER_PAGE),
      ),
    );
  });

  app.get('/runs/:id', async (req, res) => {
    const id = req.params.id;
    const detail = /^[0-9a-f-]{36}$/i.test(id) ? await store.getRun(id) : undefined;
    if (!detail) return notFound(res, `no run '${id}'`, Boolean(queues));
    const live = detail.run.status === 'running' || detail.run.status === 'queued';
    res.send(
      page(
        view(`Run ${id.slice(0, 8)}`, live ? 2 : undefined),
        runPage(detail.run, detail.nodes, detail.checks),
      ),
    );
  });

  app.post(
    '/materialize',
    express.urlencoded({ extended: false, limit: '10kb' }),
    doubleCsrfProtection,
    async (req, res) => {
      if (!queues || options.readOnly) {
        res.status(403).send(page(view('Not allowed'), html`<p>This dashboard cannot start runs.</p>`));
        return;
      }
      const body = req.body as Record<string, string | undefined>;
      const blank = (value: string | undefined) => (value?.trim() ? value.trim() : undefined);
      const partition = blank(body.partition);
      const range = partition
        ? { from: partition, to: partition }
        : blank(body.from) && blank(body.to)
          ? { from: blank(body.from) as string, to: blank(body.to) as string }
          : undefined;
      const selection = blank(body.selection) ?? '';
      try {
        const plan = planRun(graph, selectAssets(graph, selection), range);
        const runId = await startQueuedRun({
          store,
          queue: queues.assets,
          graph,
          plan,
          trigger: 'dashboard',
          selection,
        });
        res.redirect(303, `/runs/${runId}`);
      } catch (error) {
        if (!(error instanceof PipelineError)) throw error;
        res
          .status(400)
          .send(
            page(
              view('Cannot materialize'),
              html`<p class="error">${error.message}</p><p><a href="/">back</a></p>`,
            ),
          );
      }
    },
  );

  if (queues) app.use('/queues', bullBoardRouter(queues, { readOnly: options.readOnly }));

  app.use((_req, res) => notFound(res, 'no such page', Boolean(queues)));
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
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
