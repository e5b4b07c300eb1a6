import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { type Database, databaseName, openDatabase, quoteIdentifier } from '../../engine/database.ts';
import { adminUrl, serverUrl, withDatabase } from './urls.ts';

export type TestDatabase = Database & { name: string; drop: () => Promise<void> };

export function uniqueDatabaseName(prefix = 'pipeline_test'): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

async function withAdmin<T>(work: (admin: Database) => Promise<T>): Promise<T> {
  const admin = await openDatabase(adminUrl(), { max: 1 });
  try {
    return await work(admin);
  } finally {
    await admin.close();
  }
}

export async function dropDatabase(name: string): Promise<void> {
  await withAdmin((admin) =>
    admin.sql.unsafe(`drop database if exists ${quoteIdentifier(name)} with (force)`),
  );
}

/** A new database `name` holding what `template` holds (nobody may be connected to `template`). */
export async function cloneDatabase(template: string, name: string): Promise<void> {
  await withAdmin((admin) =>
    admin.sql.unsafe(`create database ${quoteIdentifier(name)} template ${quoteIdentifier(template)}`),
  );
}

/** A fresh, migrated database of this test's own (a clone of the run's template). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = uniqueDatabaseName();
  await cloneDatabase(databaseName(inject('templateDatabaseUrl')), name);
  const database = await openDatabase(withDatabase(serverUrl(), name), { max: 10 });
  return {
    ...database,
    name,
    drop: async () => {
      await database.close();
      await dropDatabase(name);
    },
  };
}
