import type { TestProject } from 'vitest/node';
import { openDatabase, quoteIdentifier } from '../../engine/database.ts';
import { migrateDatabase } from '../../engine/migrations.ts';
import { MIGRATIONS_FOLDER } from '../../schema/migrations-folder.ts';
import { adminUrl, serverUrl, withDatabase } from './urls.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDatabaseUrl: string;
  }
}

/**
 * Migrates one template database per test run; every test file clones it (CREATE DATABASE …
 * TEMPLATE), which takes milliseconds and never sees another file's rows.
 */
export default async function setup(project: TestProject) {
  const name = `pipeline_template_${process.pid}`;
  const url = withDatabase(serverUrl(), name);
  await dropDatabase(name);
  await migrateDatabase(url, MIGRATIONS_FOLDER);
  project.provide('templateDatabaseUrl', url);
  return async () => {
    await dropDatabase(name);
  };
}

async function dropDatabase(name: string): Promise<void> {
  const admin = await openDatabase(adminUrl(), { max: 1 });
  try {
    await admin.sql.unsafe(`drop database if exists ${quoteIdentifier(name)} with (force)`);
  } finally {
    await admin.close();
  }
}
