import { once } from 'node:events';
import { join, relative } from 'node:path';
import { type Command, Option } from 'commander';
import { redactUrl } from '../../engine/errors.ts';
import { lastCompleteMonth, monthKey } from '../../engine/months.ts';
import { MIGRATIONS_FOLDER } from '../../schema/migrations-folder.ts';
import { assetConfig, assetSecrets } from '../asset-config.ts';
import { loadConfig } from '../config.ts';
import { wholeNumber } from '../options.ts';
import { REPO_DATA_DIR } from '../paths.ts';
import { say } from '../print.ts';

type DemoFlags = { embedded?: boolean; port?: number; customers: number; months: number };

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the whole story on one machine: data, every answer, then the dashboard (Ctrl-C to stop)')
    .option('--embedded', 'run an embedded PostgreSQL under .data/ (no services needed)')
    .option('--port <n>', 'dashboard port (default DASHBOARD_PORT, 3000)', wholeNumber('port', 1, 65535))
    // Not in --help: a smaller story, for the tests of the demo itself.
    .addOption(
      new Option('--customers <n>', 'customers in the landing zone')
        .argParser(wholeNumber('customers', 1, 1_000_000))
        .default(1_000)
        .hideHelp(),
    )
    .addOption(
      new Option('--months <n>', 'months in the landing zone')
        .argParser(wholeNumber('months', 1, 120))
        .default(24)
        .hideHelp(),
    )
    .action(demo);
}

async function demo(flags: DemoFlags): Promise<void> {
  const embedded = flags.embedded || !process.env.DATABASE_URL;
  const [{ startEmbeddedPostgres }, { migrateDatabase }, { openDatabase }] = await Promise.all([
    import('../embedded-postgres.ts'),
    import('../../engine/migrations.ts'),
    import('../../engine/database.ts'),
  ]);
  const server = embedded ? await startEmbeddedPostgres(join(REPO_DATA_DIR, 'demo'), say) : undefined;
  if (server) process.env.DATABASE_URL = server.url;
  try {
    const config = loadConfig();
    say(
      `1/4 database: ${redactUrl(config.databaseUrl)}${server ? ` (embedded, data in ${shown(server.dataDir)})` : ''}`,
    );
    await migrateDatabase(config.databaseUrl, MIGRATIONS_FOLDER);
    const landing = join(REPO_DATA_DIR, 'demo', 'landing');
    const end = lastCompleteMonth();
    const { customers, months } = flags;
    say(
      `2/4 landing zone: ${customers.toLocaleString('en-US')} customers, ${months} months to ${monthKey(end)} in ${shown(landing)}`,
    );
    const { generateLandingZone } = await import('../../data-generation/landing-zone.ts');
    const { localOutput } = await import('../../data-generation/local-output.ts');
    await generateLandingZone(localOutput(landing), { customers, months, end, seed: 42 });
    // With both services configured the demo shows the real thing: its own workers on BullMQ.
    const onWorkers = !server && Boolean(process.env.REDIS_URL);
    const database = await openDatabase(config.databaseUrl, { max: 8 });
    try {
      const run = await demoRun(
        database,
        { ...config, landingDir: landing },
        { from: end - months + 1, to: end },
      );
      // A second demo on the same .data/ finds what the first one materialized still current.
      if (run.plan.nodes.length === 0) {
        say(
          '3/4 every asset of every month is current (the landing zone did not change): nothing to materialize',
        );
      } else {
        say(
          `3/4 materializing the ${run.plan.nodes.length} missing or stale nodes of every asset but the market group, month by month${onWorkers ? ', on two BullMQ workers' : ''} …`,
        );
        if (onWorkers) await materializeOnWorkers(run);
        else await materializeInProcess(run);
      }
      say(`4/4 the answers for ${monthKey(end)}:`);
      const { demoAnswers } = await import('../../assets/analytics/summary.ts');
      for (const line of await demoAnswers(database.sql, `${monthKey(end)}-01`)) say(line);
      await serveDashboard(run, flags.port, say);
    } finally {
      await database.close();
    }
  } finally {
    await server?.stop();
  }
}

/** A path as the demo shows it: relative to the repository when inside it (.data/demo/…). */
function shown(path: string): string {
  const inside = relative(join(REPO_DATA_DIR, '..'), path);
  return inside.startsWith('..') ? path : inside;
}

type Database = import('../../engine/database.ts').Database;
type CliConfig = ReturnType<typeof loadConfig>;

/** What both ways of running the demo share: the graph, the plan, the run store. */
type DemoRun = {
  database: Database;
  config: CliConfig;
  graph: import('../../engine/graph.ts').AssetGraph<import('../../assets/config.ts').PipelineConfig>;
  plan: import('../../engine/plan.ts').RunPlan;
  store: import('../../engine/run-store.ts').RunStore;
  history: import('../../engine/run-history.ts').RunHistory;
};

const SELECTION = '* -group:market';

/** The demo's run: what of its months is missing or stale (all of it, the first time). */
async function demoRun(
  database: Database,
  config: CliConfig,
  months: { from: number; to: number },
): Promise<DemoRun> {
  const [
    { loadAssetGraph },
    { selectAssets },
    { assetState },
    { planFromState },
    { RunStore },
    { RunHistory },
  ] = await Promise.all([
    import('../load-assets.ts'),
    import('../../engine/selection.ts'),
    import('../../engine/asset-state.ts'),
    import('../../engine/state-plan.ts'),
    import('../../engine/run-store.ts'),
    import('../../engine/run-history.ts'),
  ]);
  const graph = await loadAssetGraph();
  const range = { from: monthKey(months.from), to: monthKey(months.to) };
  const grid = await assetState({ database, graph, config: assetConfig(config), range });
  const { plan } = planFromState(graph, grid, {
    selected: selectAssets(graph, SELECTION),
    range,
    only: 'stale',
  });
  return {
    database,
    config,
    graph,
    plan,
    store: new RunStore(database.sql),
    history: new RunHistory(database),
  };
}

async function progressBar(total: number) {
  const { SingleBar } = await import('cli-progress');
  const bar = new SingleBar({
    format: '    {bar} {value}/{total} nodes',
    hideCursor: true,
    stream: process.stdout,
  });
  bar.start(total, 0);
  return bar;
}

function expectSucceeded(runId: string, status: string): void {
  if (status !== 'succeeded') {
    throw new Error(`the demo run ${runId} ${status}: see \`npx pipeline run ${runId.slice(0, 8)}\``);
  }
}

async function materializeInProcess(run: DemoRun): Promise<void> {
  const [{ InProcessExecutor }, { launchRun }, { createLogger }] = await Promise.all([
    import('../../engine/in-process-executor.ts'),
    import('../../engine/executor.ts'),
    import('../../engine/logger.ts'),
  ]);
  const bar = await progressBar(run.plan.nodes.length);
  let done = 0;
  const executor = new InProcessExecutor({
    ...run,
    configFor: (options) => assetConfig(run.config, options),
    secrets: assetSecrets(run.config),
    logger: createLogger('silent'),
    concurrency: 2,
    leaseSeconds: run.config.executorLeaseSeconds,
    onEvent: (event) => {
      if (event.type !== 'retrying') bar.update(++done);
    },
  });
  try {
    const { runId } = await launchRun(run.store, executor, {
      trigger: 'demo',
      selection: SELECTION,
      plan: run.plan,
      skipCurrent: true,
    });
    const status = await executor.finish(runId);
    bar.stop();
    expectSucceeded(runId, status);
  } finally {
    executor.close();
  }
}

/** The same run through BullMQ: two workers in this process, the run followed in Postgres. */
async function materializeOnWorkers(run: DemoRun): Promise<void> {
  const [{ createLogger }, { startWorker }, { launchRun }, { BullMqExecutor }, { followRun }] =
    await Promise.all([
      import('../../engine/logger.ts'),
      import('../../workers/worker.ts'),
      import('../../engine/executor.ts'),
      import('../../queues/bullmq-executor.ts'),
      import('../follow-run.ts'),
    ]);
  const { config } = run;
  const workers = [1, 2].map(() =>
    startWorker({
      graph: run.graph,
      database: run.database,
      configFor: (options) => assetConfig(config, options),
      secrets: assetSecrets(config),
      redisUrl: config.redisUrl,
      prefix: config.queuePrefix,
      concurrency: 2,
      logger: createLogger('silent'),
    }),
  );
  const { connectQueues } = await import('../../queues/queues.ts');
  const queues = await connectQueues(config.redisUrl, config.queuePrefix);
  try {
    const { runId } = await launchRun(run.store, new BullMqExecutor(queues.assets, run.graph), {
      trigger: 'demo',
      selection: SELECTION,
      plan: run.plan,
      skipCurrent: true,
    });
    const bar = await progressBar(run.plan.nodes.length);
    const status = await followRun(run.history, runId, (detail) =>
      bar.update(
        detail.nodes.filter((node) => node.status === 'succeeded' || node.status === 'skipped').length,
      ),
    );
    bar.stop();
    expectSucceeded(runId, status);
  } finally {
    await Promise.all(workers.map((worker) => worker.close()));
    await queues.close();
  }
}

async function serveDashboard(
  run: DemoRun,
  port: number | undefined,
  say: (line: string) => void,
): Promise<void> {
  const [{ createDashboard, listen }, { ownHosts }] = await Promise.all([
    import('../../dashboard/server.ts'),
    import('../../dashboard/request-guards.ts'),
  ]);
  // Bull Board only with a Redis to show; the pages say how to enable it.
  const { connectQueues } = await import('../../queues/queues.ts');
  const queues = process.env.REDIS_URL
    ? await connectQueues(run.config.redisUrl, run.config.queuePrefix)
    : undefined;
  const app = createDashboard({
    graph: run.graph,
    database: run.database,
    config: assetConfig(run.config),
    queues,
    readOnly: false,
    allowedHosts: ownHosts(run.config.dashboard.allowedHosts, false),
    maxPartitions: run.config.maxPartitions,
  });
  const listenPort = port ?? run.config.dashboard.port;
  const server = await listen(app, listenPort, '127.0.0.1');
  say(
    `dashboard: http://127.0.0.1:${listenPort}  (Ctrl-C to stop${queues ? '' : '; set REDIS_URL to add Bull Board at /queues'})`,
  );
  await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
  server.close();
  server.closeAllConnections();
  await queues?.close();
}
