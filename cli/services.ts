import { type Database, openDatabase } from '../engine/database.ts';
import { RunStore } from '../engine/run-store.ts';
import { loadConfig } from './config.ts';

/** Opens the database named by the environment for one command and always closes it. */
export async function withRunStore<T>(
  work: (store: RunStore, database: Database) => Promise<T>,
  options: { poolSize?: number } = {},
): Promise<T> {
  const config = loadConfig();
  const database = await openDatabase(config.databaseUrl, { max: options.poolSize ?? 10 });
  try {
    return await work(new RunStore(database.db), database);
  } finally {
    await database.close();
  }
}
