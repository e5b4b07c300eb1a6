import { Redis, type RedisOptions } from 'ioredis';
import { redactUrl, ServiceUnreachableError } from '../engine/errors.ts';

const REDIS_START_HINT =
  'start it with `docker compose up -d redis` (or `redis-server --daemonize yes`), or set REDIS_URL';

export type RedisRole = 'worker' | 'client';

/**
 * Workers must block forever on Redis (maxRetriesPerRequest: null, as BullMQ requires);
 * short-lived clients (CLI, dashboard) fail fast instead of queueing commands while Redis is down.
 */
export function redisOptions(role: RedisRole): RedisOptions {
  return role === 'worker'
    ? { maxRetriesPerRequest: null, enableReadyCheck: true }
    : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5_000, lazyConnect: true };
}

export function explainRedisError(error: unknown, url: string): ServiceUnreachableError {
  const code = (error as { code?: string } | undefined)?.code ?? (error as Error | undefined)?.message;
  return new ServiceUnreachableError(
    `Redis is not reachable at ${redactUrl(url)} (${code}): ${REDIS_START_HINT}`,
    {
      cause: error,
    },
  );
}

/** Opens a client connection and proves it answers, or throws one clear ServiceUnreachableError. */
export async function connectRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, { ...redisOptions('client'), retryStrategy: () => null });
  let lastError: unknown;
  redis.on('error', (error) => {
    lastError = error;
  });
  try {
    await redis.connect();
    await redis.ping();
    return redis;
  } catch (error) {
    redis.disconnect();
    throw explainRedisError(lastError ?? error, url);
  }
}
