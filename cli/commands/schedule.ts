import type { Command } from 'commander';
import { UsageError } from '../../engine/errors.ts';
import { formatTime } from '../../engine/format.ts';
import { firstDay, monthOfDate } from '../../engine/months.ts';
import { loadConfig } from '../config.ts';
import { say } from '../print.ts';
import { withRuns } from '../services.ts';

type ScheduleFlags = { pause?: string; resume?: string };

export function registerSchedule(program: Command): void {
  program
    .command('schedule')
    .description(
      'create or update the job schedulers — the monthly run and the landing-zone sensor (idempotent; a paused one stays paused) — and print their next fire times',
    )
    .option('--pause <scheduler>', 'pause one scheduler (monthly-asset-graph or landing-zone-sensor)')
    .option('--resume <scheduler>', 'resume a paused scheduler')
    .action(schedule);
}

async function schedule(flags: ScheduleFlags): Promise<void> {
  if (flags.pause && flags.resume) throw new UsageError('use either --pause or --resume, not both');
  const config = loadConfig();
  const [{ connectQueues }, schedules, { TickStore }, { SCHEDULER_ID }] = await Promise.all([
    import('../../queues/queues.ts'),
    import('../../queues/schedule.ts'),
    import('../../engine/ticks.ts'),
    import('../../queues/catalog.ts'),
  ]);
  const queues = await connectQueues(config.redisUrl, config.queuePrefix);
  try {
    await withRuns(async ({ database }) => {
      const ticks = new TickStore(database.sql);
      const toggled = flags.pause ?? flags.resume;
      if (toggled) {
        const known = schedules.SCHEDULER_IDS as readonly string[];
        if (!known.includes(toggled)) {
          throw new UsageError(`no scheduler '${toggled}': the schedulers are ${known.join(', ')}`);
        }
        const setting = await schedules.setSchedulerPaused(
          queues.schedule,
          ticks,
          toggled,
          Boolean(flags.pause),
        );
        if (!setting)
          throw new UsageError(
            `scheduler '${toggled}' is not defined yet: run \`npx pipeline schedule\` first`,
          );
      } else {
        await schedules.upsertSchedules(queues.schedule, ticks, {
          sensorIntervalSeconds: config.sensor.intervalSeconds,
        });
        if (config.sensor.intervalSeconds === 0)
          say('landing-zone sensor removed (LANDING_SENSOR_INTERVAL=0)');
      }
      for (const setting of (await ticks.schedulers()).values()) {
        const state = setting.paused ? ' — paused' : '';
        say(`scheduler '${setting.id}': ${schedules.describeRepeat(setting.repeat)}${state}`);
        const next = await schedules.nextFireTime(queues.schedule, setting.id);
        if (!next) continue;
        if (setting.id === SCHEDULER_ID) {
          // The pattern fires on the 1st at 09:00 UTC: the two after the next follow by month.
          const month = monthOfDate(next);
          const fires = [next, ...[1, 2].map((ahead) => new Date(`${firstDay(month + ahead)}T09:00:00Z`))];
          for (const fire of fires) {
            say(`  next: ${formatTime(fire)}  (runs ${firstDay(monthOfDate(fire) - 1).slice(0, 7)})`);
          }
        } else say(`  next: ${formatTime(next)}`);
      }
    });
  } finally {
    await queues.close();
  }
}
