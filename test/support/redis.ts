import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { onFreePorts, spawnRedisServer } from './redis-process';

export interface TestRedis {
  url: string;
  port: number;
  /** A plain client for assertions (PUBSUB NUMSUB, CLIENT KILL, …); closed by stop(). */
  client(): Redis;
  /** Stops the server (SHUTDOWN, saving the AOF when it is on) and waits for it to exit. */
  shutdown(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  restart(): Promise<void>;
  /** Stops it for good and removes its data. */
  stop(): Promise<void>;
}

export interface RedisOptions {
  /** AOF persistence, for tests that restart Redis and expect the history to survive. */
  appendonly?: boolean;
  /**
   * Use REDIS_URL when it is set (suites that only need a Redis). Tests that stop or restart Redis
   * pass false and always get a server of their own.
   */
  shared?: boolean;
}

/** Starts a `redis-server` of this test's own on a free port (or uses REDIS_URL, see options). */
export async function startRedis(options: RedisOptions = {}): Promise<TestRedis> {
  const clients: Redis[] = [];
  const client = (url: string) => () => {
    const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: false });
    redis.on('error', () => undefined);
    clients.push(redis);
    return redis;
  };
  const closeClients = () =>
    Promise.all(clients.splice(0).map((redis) => redis.quit().catch(() => redis.disconnect())));

  const shared = process.env.REDIS_URL;
  if (shared && options.shared !== false) {
    return {
      url: shared,
      port: Number(new URL(shared).port || 6379),
      client: client(shared),
      shutdown: () => Promise.reject(new Error('cannot shut down the shared REDIS_URL; pass shared: false')),
      restart: () => Promise.reject(new Error('cannot restart the shared REDIS_URL; pass shared: false')),
      stop: async () => {
        await closeClients();
      },
    };
  }

  const dir = mkdtempSync(join(tmpdir(), 'herald-redis-'));
  const args = (port: number) => [
    ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir],
    ...['--appendonly', options.appendonly ? 'yes' : 'no', '--appendfsync', 'always'],
  ];
  let server = await onFreePorts(1, ([port]) => spawnRedisServer(args(port), port));
  const port = server.port;
  const url = `redis://127.0.0.1:${port}`;

  return {
    url,
    port,
    client: client(url),
    shutdown: () => server.kill('SIGTERM'),
    restart: async () => {
      server = await spawnRedisServer(args(port), port);
    },
    stop: async () => {
      await closeClients();
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
