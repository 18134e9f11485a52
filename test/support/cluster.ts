import { startApp, TestApp } from './app';
import { RedisOptions, startRedis, TestRedis } from './redis';

/** A Redis of the test's own and replicas of the built service on it. */
export interface TestCluster {
  redis: TestRedis;
  replicas: TestApp[];
  /** Kills every replica and the Redis. */
  stop(): Promise<void>;
}

/**
 * Starts `count` replicas on one fresh Redis; `env` applies to each (REDIS_URL is set here);
 * `readyTimeoutMs` as startApp's.
 */
export async function startCluster(
  count: number,
  env: Record<string, string | undefined> = {},
  redisOptions: RedisOptions = {},
  readyTimeoutMs?: number,
): Promise<TestCluster> {
  const redis = await startRedis(redisOptions);
  const started = await Promise.allSettled(
    Array.from({ length: count }, () => startApp({ ...env, REDIS_URL: redis.url }, readyTimeoutMs)),
  );
  const replicas = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stop = async () => {
    await Promise.all(replicas.map((replica) => replica.kill()));
    await redis.stop();
  };
  const failure = started.find((result) => result.status === 'rejected');
  if (failure) {
    await stop();
    throw failure.reason;
  }
  return { redis, replicas, stop };
}

/** from, from + 1, …, to */
export const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);
