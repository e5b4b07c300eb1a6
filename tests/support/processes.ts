import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

/**
 * Polls `probe` until it returns something other than undefined/false; fails with `what` on
 * timeout, or at once when `giveUpWhen` names a reason (e.g. the process that should act is gone).
 * A probe that throws is tried again (a service may be briefly away).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: {
    timeoutMs?: number;
    intervalMs?: number;
    detail?: () => string | Promise<string>;
    giveUpWhen?: () => string | undefined;
  } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    const reason = options.giveUpWhen?.();
    if (reason !== undefined || Date.now() > deadline) {
      const detail = options.detail ? `\n${await options.detail()}` : '';
      const cause = lastError ? ` (last error: ${String(lastError)})` : '';
      throw new Error(`${reason ?? 'timed out'} waiting for ${what}${cause}${detail}`);
    }
    await sleep(options.intervalMs ?? 100);
  }
}

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Deletes every key under a BullMQ prefix (SCAN, not KEYS: the shared Redis serves other tests). */
export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** A redis-server of the test's own (it may be stopped and restarted, unlike the shared one). */
export type OwnRedis = { url: string; port: number; child: ChildProcess; stop: () => Promise<void> };

export async function startRedisServer(port: number, dir: string): Promise<OwnRedis> {
  // Append-only file like a production deployment: a restart keeps the queued jobs.
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  let running = true;
  void exited.then(() => {
    running = false;
  });
  await waitFor(
    `redis-server on port ${port}`,
    () => {
      if (!running) throw new Error(`redis-server exited:\n${output}`);
      return /Ready to accept connections/.test(output);
    },
    { timeoutMs: 15_000, intervalMs: 50 },
  );
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    child,
    stop: async () => {
      if (!running) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * A TCP proxy in front of a server (Postgres): `cut()` drops every open connection and stops
 * listening, so new connections are refused (to whoever connects through the proxy, the server is
 * down); `restore()` listens on the same port again.
 */
export type TcpProxy = {
  port: number;
  cut: () => Promise<void>;
  restore: () => Promise<void>;
  close: () => Promise<void>;
};

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      socket.on('error', drop);
      socket.on('close', drop);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  const port = address.port;
  let listening = true;
  const stop = async () => {
    for (const socket of open) socket.destroy();
    open.clear();
    if (!listening) return;
    listening = false;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    port,
    cut: stop,
    restore: async () => {
      if (listening) return;
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
      listening = true;
    },
    close: stop,
  };
}
