import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres, { type Sql, type TransactionSql } from 'postgres';
import { engineSchema } from '../schema/engine.ts';
import { redactUrl, ServiceUnreachableError } from './errors.ts';

/** Drizzle over the engine's own tables (runs, nodes, attempts, materializations, checks). */
export type EngineDb = PostgresJsDatabase<typeof engineSchema>;
/** Drizzle without a schema, for code that brings its own tables (assets). */
export type AnyDb = PostgresJsDatabase;
export type Database = { sql: Sql; db: EngineDb; url: string; close: () => Promise<void> };

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '57P03', // the database system is starting up / shutting down
]);

/**
 * Turns a failure to reach Postgres into one line naming the URL (password masked) and what went
 * wrong; the caller may add how to fix it in its own words. Anything else passes through.
 */
export function explainPostgresError(error: unknown, url: string): unknown {
  const code = (error as { code?: string } | undefined)?.code;
  const shown = redactUrl(url);
  const unreachable = (problem: 'unreachable' | 'no-database' | 'credentials', message: string) =>
    new ServiceUnreachableError(message, { cause: error, service: 'postgres', problem });
  if (code && CONNECTION_ERROR_CODES.has(code)) {
    return unreachable('unreachable', `PostgreSQL is not reachable at ${shown} (${code})`);
  }
  if (code === '3D000') return unreachable('no-database', `PostgreSQL database in ${shown} does not exist`);
  if (code === '28P01' || code === '28000') {
    return unreachable('credentials', `PostgreSQL rejected the credentials in ${shown}`);
  }
  return error;
}

export type OpenOptions = {
  max?: number;
  connectTimeoutSeconds?: number;
  applicationName?: string;
  /** The URL to name in errors, when it differs from the one connected to (e.g. the maintenance database). */
  shownUrl?: string;
};

/** Opens a pool and proves it answers, so an unreachable database fails here with a clear message. */
export async function openDatabase(url: string, options: OpenOptions = {}): Promise<Database> {
  const sql = postgres(url, {
    max: options.max ?? 10,
    connect_timeout: options.connectTimeoutSeconds ?? 5,
    onnotice: () => {},
    // JIT compiles any query whose estimated cost is high: ~1 s for a 12-row check whose plan
    // estimate is inflated, and slower scans of traffic too (measured: a 12-month scan 3.7 s with
    // JIT, 2.9 s without). The pipeline's queries are better off without it.
    connection: { application_name: options.applicationName ?? 'pipeline', jit: 'off' },
  });
  try {
    await sql`select 1`;
  } catch (error) {
    await sql.end({ timeout: 0 }).catch(() => {});
    throw explainPostgresError(error, options.shownUrl ?? url);
  }
  return { sql, db: drizzle(sql, { schema: engineSchema }), url, close: () => sql.end({ timeout: 5 }) };
}

/** The URL of the same server's maintenance database, used to create or drop databases. */
export function maintenanceUrl(url: string): string {
  const parsed = new URL(url);
  parsed.pathname = '/postgres';
  return parsed.toString();
}

export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new ServiceUnreachableError(`the database URL ${redactUrl(url)} names no database`);
  return name;
}

/** Creates the database named in the URL when it is missing; returns true when it did. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  const admin = await openDatabase(maintenanceUrl(url), { max: 1, shownUrl: url });
  try {
    const [row] = await admin.sql`select 1 as found from pg_database where datname = ${name}`;
    if (row) return false;
    try {
      await admin.sql.unsafe(`create database ${quoteIdentifier(name)}`);
    } catch (error) {
      // Another process created it between our look and our create (42P04, or 23505 when both raced
      // into pg_database at the same moment).
      const code = (error as { code?: string }).code;
      if (code === '42P04' || code === '23505') return false;
      throw error;
    }
    return true;
  } finally {
    await admin.close();
  }
}

export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Drizzle over a postgres.js transaction, without a schema (the caller's tables are imported where
 * used). drizzle() reads (and adjusts) `client.options`, which a transaction handle lacks; it shares
 * the pool's, which postgres.js filled in when the pool was made.
 */
export function drizzleInTransaction(tx: TransactionSql, pool: Sql): AnyDb {
  return drizzle(Object.assign(tx, { options: pool.options }) as unknown as Sql);
}
