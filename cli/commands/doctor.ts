import type { Command } from 'commander';
import { redactUrl } from '../../engine/errors.ts';
import { loadConfig } from '../config.ts';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description(
      'check that the configuration is valid, PostgreSQL and Redis answer and the landing zone is readable',
    )
    .action(async () => {
      const config = loadConfig();
      const { openDatabase } = await import('../../engine/database.ts');
      const { connectRedis } = await import('../../queues/connection.ts');
      const database = await openDatabase(config.databaseUrl, { max: 1 });
      const [row] = await database.sql<
        { version: string }[]
      >`select current_setting('server_version') as version`;
      await database.close();
      console.log(`postgres ok  ${redactUrl(config.databaseUrl)} (PostgreSQL ${row?.version})`);
      const redis = await connectRedis(config.redisUrl);
      const info = await redis.info('server');
      redis.disconnect();
      const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
      console.log(`redis    ok  ${redactUrl(config.redisUrl)} (Redis ${version})`);
      const { checkLandingZone } = await import('../landing-check.ts');
      console.log(`landing  ok  ${await checkLandingZone(config)}`);
    });
}
