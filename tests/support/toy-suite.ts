import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { TOY_TABLES_SQL } from '../fixtures/toy-assets.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { deleteRedisKeys } from './processes.ts';
import { redisUrl, serverUrl, withDatabase } from './urls.ts';

export type Cleanup = () => Promise<void> | void;

/**
 * A test file's own world for the toy assets: a database with the toy tables, queue prefixes on
 * the shared Redis (deleted at the end), and cleanups a test registers for what it started
 * (processes, servers, clients), run after it in reverse order whatever happened.
 */
export type ToySuite = {
  readonly database: TestDatabase;
  readonly databaseUrl: string;
  /** A queue prefix of the test's own on the shared Redis (each test sees only its own jobs). */
  prefix(name: string): string;
  onCleanup(cleanup: Cleanup): void;
};

export function useToySuite(): ToySuite {
  const filePrefix = `test-${randomUUID()}`;
  const prefixes: string[] = [];
  let cleanups: Cleanup[] = [];
  let database: TestDatabase | undefined;

  beforeAll(async () => {
    database = await createTestDatabase();
    await database.sql.unsafe(TOY_TABLES_SQL);
  });
  afterEach(async () => {
    const pending = cleanups.reverse();
    cleanups = [];
    for (const cleanup of pending) await cleanup();
  });
  afterAll(async () => {
    for (const prefix of prefixes) await deleteRedisKeys(redisUrl(), prefix);
    await database?.drop();
  });

  const started = (): TestDatabase => {
    if (!database) throw new Error('the toy suite is used before its beforeAll ran');
    return database;
  };
  return {
    get database() {
      return started();
    },
    get databaseUrl() {
      return withDatabase(serverUrl(), started().name);
    },
    prefix(name) {
      const prefix = `${filePrefix}-${name}`;
      prefixes.push(prefix);
      return prefix;
    },
    onCleanup(cleanup) {
      cleanups.push(cleanup);
    },
  };
}
