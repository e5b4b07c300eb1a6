import { once } from 'node:events';
import { join } from 'node:path';
import type { Command } from 'commander';
import { redactUrl } from '../../engine/errors.ts';
import { lastCompleteMonth, monthKey } from '../../engine/months.ts';
import { assetConfig } from '../asset-config.ts';
import { loadConfig } from '../config.ts';
import { wholeNumber } from '../options.ts';
import { REPO_DATA_DIR } from '../paths.ts';

type DemoFlags = { embedded?: boolean; port?: number };

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the whole story on one machine: data, every answer, then the dashboard (Ctrl-C to stop)')
    .option('--embedded', 'run an embedded PostgreSQL under .data/ (no services needed)')
    .option('--port <n>', 'dashboard port (default DASHBOARD_PORT, 3000)', wholeNumber('port', 1, 65535))
    .action(demo);
}

async function demo(flags: DemoFlags): Promise<void> {
  const say = (line: string) => console.log(line);
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
    say(`1/4 database: ${redactUrl(config.databaseUrl)}${server ? ' (embedded, data in .data/demo)' : ''}`);
    await migrateDatabase(config.databaseUrl);
    const landing = join(REPO_DATA_DIR, 'demo', 'landing');
    const end = lastCompleteMonth();
    say(`2/4 landing zone: 1 000 customers, 24 months to ${monthKey(end)} in .data/demo/landing`);
    const { generateLandingZone } = await import('../../data-generation/landing-zone.ts');
    await generateLandingZone({ out: landing, customers: 1_000, months: 24, end, seed: 42 });
    // With both services configured the demo shows the real thing: its own workers on BullMQ.
    const onWorkers = !server && Boolean(process.env.REDIS_URL);
    say(
      `3/4 materializing every asset but the market group, month by month${onWorkers ? ', on two BullMQ workers' : ''} …`,
    );
    const database = await openDatabase(config.databaseUrl, { max: 8 });
    try {
      const demoConfig = { ...config, landingDir: landing };
      if (onWorkers) await materializeOnWorkers(database, demoConfig, end);
      else await materializeAll(database, demoConfig, end);
      say(`4/4 the answers for ${monthKey(end)}:`);
      const { demoAnswers } = await import('../../assets/analytics/summary.ts');
      for (const line of await demoAnswers(database.sql, `${monthKey(end)}-01`)) say(line);
      await serveDashboard(database, config, flags.port, say);
    } finally {
      await database.close();
    }
  } finally {
    await server?.stop();
  }
}

async function materializeAll(
  database: import('../../engine/database.ts').Database,
  config: ReturnType<typeof loadConfig>,
  end: number,
): Promise<void> {
  const [
    { loadAssetGraph },
    { selectAssets },
    { planRun },
    { executeInProcess },
    { RunStore },
    { createLogger },
  ] = await Promise.all([
    import('../load-assets.ts'),
    import('../../engine/selection.ts'),
    import('../../engine/plan.ts'),
    import('../../engine/executor.ts'),
    import('../../engine/run-store.ts'),
    import('../../engine/logger.ts'),
  ]);
  const { SingleBar } = await import('cli-progress');
  const graph = await loadAssetGraph();
  const plan = planRun(graph, selectAssets(graph, '* -group:market'), {
    from: monthKey(end - 23),
    to: monthKey(end),
  });
  const store = new RunStore(database.db);
  const runId = await store.createRun({
    trigger: 'demo',
    selection: '* -group:market',
    executor: 'in-process',
    plan,
  });
  const bar = new SingleBar({
    format: '    {bar} {value}/{total} nodes | {node}',
    hideCursor: true,
    stream: process.stdout,
  });
  bar.start(plan.nodes.length, 0, { node: '' });
  let done = 0;
  const result = await executeInProcess({
    database,
    store,
    graph,
    plan,
    runId,
    config: assetConfig(config),
    logger: createLogger('silent'),
    concurrency: 2,
    onEvent: (event) => {
      if (event.type === 'succeeded' || event.type === 'failed' || event.type === 'skipped') {
        bar.update(++done, { node: event.node.id });
      }
    },
  });
  bar.stop();
  if (result.status !== 'succeeded') {
    throw new Error(`the demo run ${runId} ${result.status}: see \`npx pipeline run ${runId.slice(0, 8)}\``);
  }
}

/** The same run through BullMQ: two workers in this process, the run followed in Postgres. */
async function materializeOnWorkers(
  database: import('../../engine/database.ts').Database,
  config: ReturnType<typeof loadConfig>,
  end: number,
): Promise<void> {
  const [{ loadAssetGraph }, { selectAssets }, { planRun }, { RunStore }, { createLogger }, { startWorker }] =
    await Promise.all([
      import('../load-assets.ts'),
      import('../../engine/selection.ts'),
      import('../../engine/plan.ts'),
      import('../../engine/run-store.ts'),
      import('../../engine/logger.ts'),
      import('../../workers/worker.ts'),
    ]);
  const { connectRedis } = await import('../../queues/connection.ts');
  const { openQueues } = await import('../../queues/queues.ts');
  const { startQueuedRun } = await import('../../queues/runs.ts');
  const { SingleBar } = await import('cli-progress');
  const graph = await loadAssetGraph();
  const plan = planRun(graph, selectAssets(graph, '* -group:market'), {
    from: monthKey(end - 23),
    to: monthKey(end),
  });
  const workers = [1, 2].map(() =>
    startWorker({
      graph,
      database,
      configFor: (run) => assetConfig(config, run),
      redisUrl: config.redisUrl,
      prefix: config.queuePrefix,
      concurrency: 2,
      logger: createLogger('silent'),
    }),
  );
  const redis = await connectRedis(config.redisUrl);
  const queues = openQueues(redis, config.queuePrefix);
  const store = new RunStore(database.db);
  try {
    const runId = await startQueuedRun({
      store,
      queue: queues.assets,
      graph,
      plan,
      trigger: 'demo',
      selection: '* -group:market',
    });
    const bar = new SingleBar({
      format: '    {bar} {value}/{total} nodes',
      hideCursor: true,
      stream: process.stdout,
    });
    bar.start(plan.nodes.length, 0);
    for (;;) {
      const detail = await store.getRun(runId);
      bar.update(detail?.nodes.filter((node) => node.status === 'succeeded').length ?? 0);
      if (detail && ['succeeded', 'failed', 'canceled'].includes(detail.run.status)) {
        bar.stop();
        if (detail.run.status !== 'succeeded') {
          throw new Error(
            `the demo run ${runId} ${detail.run.status}: see \`npx pipeline run ${runId.slice(0, 8)}\``,
          );
        }
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await Promise.all(workers.map((worker) => worker.close()));
    await queues.close();
    redis.disconnect();
  }
}

async function serveDashboard(
  database: import('../../engine/database.ts').Database,
  config: ReturnType<typeof loadConfig>,
  port: number | undefined,
  say: (line: string) => void,
): Promise<void> {
  const [{ loadAssetGraph }, { createDashboard, listen }] = await Promise.all([
    import('../load-assets.ts'),
    import('../../dashboard/server.ts'),
  ]);
  // Bull Board only with a Redis to show; the pages say how to enable it.
  const queues = process.env.REDIS_URL
    ? await openQueuesOrNothing(config.redisUrl, config.queuePrefix)
    : undefined;
  const app = createDashboard({ graph: await loadAssetGraph(), database, queues, readOnly: false });
  const listenPort = port ?? config.dashboard.port;
  const server = await listen(app, listenPort, '127.0.0.1');
  say(
    `dashboard: http://127.0.0.1:${listenPort}  (Ctrl-C to stop${queues ? '' : '; set REDIS_URL to add Bull Board at /queues'})`,
  );
  await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
  server.close();
  server.closeAllConnections();
  await queues?.close();
}

async function openQueuesOrNothing(url: string, prefix: string) {
  const { connectRedis } = await import('../../queues/connection.ts');
  const { openQueues } = await import('../../queues/queues.ts');
  return openQueues(await connectRedis(url), prefix);
}
