import { once } from 'node:events';
import type { Command } from 'commander';
import type { PipelineConfig } from '../../assets/config.ts';
import { redactUrl } from '../../engine/errors.ts';
import { assetConfig, assetSecrets } from '../asset-config.ts';
import { loadConfig } from '../config.ts';
import { loadAssetGraph } from '../load-assets.ts';
import { wholeNumber } from '../options.ts';

type WorkerFlags = { concurrency: number; lockDuration?: number; stalledInterval?: number };

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description(
      'process asset jobs and scheduled ticks (start any number, on any machines sharing one Redis)',
    )
    .option('--concurrency <n>', 'asset jobs processed at once', wholeNumber('concurrency', 1, 32), 2)
    .option(
      '--lock-duration <ms>',
      'how long a job stays locked without a heartbeat (stall detection)',
      wholeNumber('lock-duration', 1_000),
    )
    .option(
      '--stalled-interval <ms>',
      'how often stalled jobs are looked for',
      wholeNumber('stalled-interval', 1_000),
    )
    .action(work);
}

async function work(flags: WorkerFlags): Promise<void> {
  const config = loadConfig();
  const [{ openDatabase }, { connectRedis }, { evictionWarning }, { startWorker }, { createLogger }] =
    await Promise.all([
      import('../../engine/database.ts'),
      import('../../queues/connection.ts'),
      import('../../queues/queues.ts'),
      import('../../workers/worker.ts'),
      import('../../engine/logger.ts'),
    ]);
  const graph = await loadAssetGraph();
  // Both services must answer before the worker takes jobs: one clear line otherwise.
  const probe = await connectRedis(config.redisUrl);
  const warning = await evictionWarning(probe).catch(() => undefined);
  probe.disconnect();
  if (warning) console.error(`warning: ${warning}`);
  // Every running job holds a connection for its transaction; the run store needs a few more.
  const database = await openDatabase(config.databaseUrl, { max: flags.concurrency + 3 });
  const worker = startWorker<PipelineConfig>({
    graph,
    database,
    configFor: (run) => assetConfig(config, run),
    secrets: assetSecrets(config),
    redisUrl: config.redisUrl,
    prefix: config.queuePrefix,
    concurrency: flags.concurrency,
    logger: createLogger(config.logLevel),
    settleSeconds: config.sensor.settleSeconds,
    lockDurationMs: flags.lockDuration,
    stalledIntervalMs: flags.stalledInterval,
  });
  await worker.assets.waitUntilReady();
  console.log(
    `worker ready: ${graph.keys.length} assets, queues '${config.queuePrefix}' on ${redactUrl(config.redisUrl)}, concurrency ${flags.concurrency} (Ctrl-C or SIGTERM to stop)`,
  );
  const signal = await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
  console.log(`stopping (${String(signal[0] ?? 'signal')}): finishing the current jobs …`);
  await worker.close();
  await database.close();
  console.log('worker stopped');
}
