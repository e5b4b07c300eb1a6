import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { UsageError } from '../../engine/errors.ts';
import { loadConfig } from '../config.ts';
import { loadAssetGraph } from '../load-assets.ts';
import { executionOptions } from '../options.ts';
import { say } from '../print.ts';

type SensorFlags = { once?: boolean; inProcess?: boolean; wait: boolean; concurrency: number };

export function registerSensor(program: Command): void {
  executionOptions(
    program
      .command('sensor')
      .description(
        'one tick of the landing-zone sensor in the foreground: start a run for new or changed landing files',
      )
      .option(
        '--once',
        'run one tick and print what it did (the workers tick on their own once `schedule` ran)',
      ),
  ).action(sensor);
}

async function sensor(flags: SensorFlags): Promise<void> {
  if (!flags.once) {
    throw new UsageError(
      'pass --once for one tick here; workers tick every LANDING_SENSOR_INTERVAL seconds once `npx pipeline schedule` created the sensor',
    );
  }
  const config = loadConfig();
  const [{ sensorTick, SENSOR_ID }, { TickStore }, execution, { assetConfig }, { formatTime }] =
    await Promise.all([
      import('../../engine/sensor.ts'),
      import('../../engine/ticks.ts'),
      import('../run-execution.ts'),
      import('../asset-config.ts'),
      import('../../engine/format.ts'),
    ]);
  const { createLogger } = await import('../../engine/logger.ts');
  const graph = await loadAssetGraph();
  let refused = false;
  const launch: import('../run-execution.ts').Launch = async (store, executor) => {
    const database = { sql: store.sql };
    const ticks = new TickStore(store.sql);
    if (await ticks.isPaused(SENSOR_ID)) say(`note: the sensor's scheduler is paused; this tick runs anyway`);
    const tick = await sensorTick(
      {
        graph,
        database,
        config: assetConfig(config),
        store,
        ticks,
        executor,
        logger: createLogger(process.env.LOG_LEVEL ? config.logLevel : 'silent'),
        settleSeconds: config.sensor.settleSeconds,
        excludedGroups: new Set(['market']),
      },
      { jobId: `cli:${randomUUID()}`, firedAt: new Date() },
    );
    say(`sensor tick at ${formatTime(new Date())}: ${tick.filesSeen ?? 0} files seen; ${tick.message}`);
    for (const file of tick.files) say(`  ${file.change.padEnd(8)} ${file.name}`);
    refused = tick.outcome === 'refused';
    // A run another tick started already is followed too: its outcome is this tick's answer.
    return tick.outcome === 'started' ? (tick.runId ?? undefined) : undefined;
  };
  if (flags.inProcess) await execution.executeHere({ config, graph, launch, concurrency: flags.concurrency });
  else await execution.executeOnWorkers({ config, graph, launch, wait: flags.wait });
  if (refused) process.exitCode = 2;
}
