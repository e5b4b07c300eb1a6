import { DEFAULT_DATABASE_URL } from '../../cli/config.ts';
import { maintenanceUrl } from '../../engine/database.ts';

/** The Postgres server the tests use: TEST_DATABASE_URL, else DATABASE_URL, else the default. */
export function serverUrl(): string {
  return process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
}

export function adminUrl(): string {
  return maintenanceUrl(serverUrl());
}

export function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

export function redisUrl(): string {
  return process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}
