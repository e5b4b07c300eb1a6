import type { Command } from 'commander';
// Implementations are imported inside actions: every verb would otherwise load every driver.
import { redactUrl } from '../../engine/errors.ts';
import { MIGRATIONS_FOLDER } from '../../schema/migrations-folder.ts';
import { loadConfig } from '../config.ts';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description(
      'create the database in DATABASE_URL if missing, then apply the Drizzle migrations (idempotent)',
    )
    .action(async () => {
      const config = loadConfig();
      const { migrateDatabase } = await import('../../engine/migrations.ts');
      const result = await migrateDatabase(config.databaseUrl, MIGRATIONS_FOLDER);
      const target = redactUrl(config.databaseUrl);
      if (result.createdDatabase) console.log(`created database ${target}`);
      console.log(
        result.applied === 0
          ? `${target} is up to date (${result.total} migrations)`
          : `applied ${result.applied} of ${result.total} migrations to ${target}`,
      );
    });
}
