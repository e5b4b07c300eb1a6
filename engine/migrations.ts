import { readMigrationFiles } from 'drizzle-orm/migrator';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { type Database, ensureDatabase, openDatabase } from './database.ts';

// Any fixed number: all processes that migrate take the same lock, so concurrent starts serialize.
const MIGRATION_LOCK_ID = 727_001;

export type MigrationResult = { createdDatabase: boolean; applied: number; total: number };

/**
 * Creates the database if needed and applies the pending drizzle-kit migrations of
 * `migrationsFolder`, one process at a time.
 */
export async function migrateDatabase(url: string, migrationsFolder: string): Promise<MigrationResult> {
  const createdDatabase = await ensureDatabase(url);
  const database = await openDatabase(url, { max: 2, applicationName: 'pipeline-migrate' });
  // A session lock on a connection of its own: drizzle's migrator runs on the pool's other one.
  const lock = await database.sql.reserve();
  try {
    await lock`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    const before = await countApplied(database);
    await migrate(database.db, { migrationsFolder });
    const after = await countApplied(database);
    const total = readMigrationFiles({ migrationsFolder }).length;
    return { createdDatabase, applied: after - before, total };
  } finally {
    await lock`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`.catch(() => {});
    lock.release();
    await database.close();
  }
}

async function countApplied(database: Database): Promise<number> {
  const [row] = await database.sql<{ count: number }[]>`
    select count(*)::int as count from information_schema.tables
    where table_schema = 'drizzle' and table_name = '__drizzle_migrations'`;
  if (!row?.count) return 0;
  const [applied] = await database.sql<
    { count: number }[]
  >`select count(*)::int as count from drizzle.__drizzle_migrations`;
  return applied?.count ?? 0;
}
