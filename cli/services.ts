import { type Database, openDatabase } from '../engine/database.ts';
import { UsageError } from '../engine/errors.ts';
import { RunHistory } from '../engine/run-history.ts';
import { RunStore } from '../engine/run-store.ts';
import { loadConfig } from './config.ts';

export type Runs = { store: RunStore; history: RunHistory; database: Database };

/**
 * Opens the database named by the environment for one command and always closes it. On the way
 * in it looks for runs whose executor went silent (a CLI killed mid-run) and marks them failed,
 * so no command ever shows such a run as running.
 */
export async function withRuns<T>(
  work: (runs: Runs) => Promise<T>,
  options: { poolSize?: number } = {},
): Promise<T> {
  const config = loadConfig();
  const database = await openDatabase(config.databaseUrl, { max: options.poolSize ?? 10 });
  try {
    const store = new RunStore(database.sql);
    await store.reapLostRuns();
    return await work({ store, history: new RunHistory(database), database });
  } finally {
    await database.close();
  }
}

/** The run a user means by an id or its first characters; a clear usage error otherwise. */
export async function resolveRunId(history: RunHistory, id: string): Promise<string> {
  if (id.trim() === '') throw new UsageError('give a run id (or its first characters): see `pipeline runs`');
  const matches = await history.findRunIds(id.trim());
  if (matches.length === 0) throw new UsageError(`no run ${id}: see \`pipeline runs\``);
  if (matches.length > 1) throw new UsageError(`run id ${id} is ambiguous: give more characters`);
  return matches[0] as string;
}
