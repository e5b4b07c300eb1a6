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

/** A fresh, migrated database of this test's own (a clone of the run's template). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const template = databaseName(inject('templateDatabaseUrl'));
  const name = uniqueDatabaseName();
  await withAdmin((admin) =>
    admin.sql.unsafe(`create database ${quoteIdentifier(name)} template ${quoteIdentifier(template)}`),
  );
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
