import type { Command } from 'commander';
import { formatTime } from '../../engine/format.ts';
import { firstDay, monthOfDate } from '../../engine/months.ts';
import { loadConfig } from '../config.ts';

export function registerSchedule(program: Command): void {
  program
    .command('schedule')
    .description('create or update the monthly job scheduler (idempotent) and print the next fire times')
    .action(async () => {
      const config = loadConfig();
      const { connectQueues } = await import('../../queues/queues.ts');
      const { upsertMonthlySchedule, MONTHLY_PATTERN } = await import('../../queues/schedule.ts');
      const { SCHEDULER_ID } = await import('../../queues/catalog.ts');
      const queues = await connectQueues(config.redisUrl, config.queuePrefix);
      try {
        await upsertMonthlySchedule(queues.schedule);
        const scheduler = await queues.schedule.getJobScheduler(SCHEDULER_ID);
        const next = scheduler?.next ? new Date(scheduler.next) : undefined;
        console.log(`scheduler '${SCHEDULER_ID}': pattern '${MONTHLY_PATTERN}', tz UTC`);
        if (next) {
          // The pattern fires on the 1st at 09:00 UTC: the two after the next follow by month.
          const month = monthOfDate(next);
          const fires = [next, ...[1, 2].map((ahead) => new Date(`${firstDay(month + ahead)}T09:00:00Z`))];
          for (const fire of fires) {
            console.log(`  next: ${formatTime(fire)}  (runs ${firstDay(monthOfDate(fire) - 1).slice(0, 7)})`);
          }
        }
      } finally {
        await queues.close();
      }
    });
}
