import { startApp, TestApp } from './app';
import { RedisOptions, startRedis, TestRedis } from './redis';
import { RedisClusterOptions, startRedisCluster, TestRedisCluster } from './redis-cluster';

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

/** Replicas of the built service on a Redis Cluster of the test's own (see startRedisCluster). */
export interface TestReplicasOnRedisCluster {
  redis: TestRedisCluster;
  replicas: TestApp[];
  /** Starts one more replica on the same cluster (stopped by stop()). */
  addReplica(env?: Record<string, string | undefined>): Promise<TestApp>;
  /** Kills every replica and the cluster. */
  stop(): Promise<void>;
}

/**
 * Starts a Redis Cluster (`clusterOptions`; 3 masters with a replica each by default) and `count`
 * replicas with REDIS_CLUSTER_NODES set to its nodes; `env` applies to each.
 */
export async function startReplicasOnRedisCluster(
  count: number,
  env: Record<string, string | undefined> = {},
  clusterOptions: RedisClusterOptions = {},
): Promise<TestReplicasOnRedisCluster> {
  const redis = await startRedisCluster(clusterOptions);
  const replicas: TestApp[] = [];
  const addReplica = async (extra: Record<string, string | undefined> = {}) => {
    const replica = await startApp({ ...env, ...extra, REDIS_CLUSTER_NODES: redis.seeds });
    replicas.push(replica);
    return replica;
  };
  const stop = async () => {
    await Promise.all(replicas.map((replica) => replica.kill()));
    await redis.stop();
  };
  try {
    await Promise.all(Array.from({ length: count }, () => addReplica()));
  } catch (error) {
    await stop();
    throw error;
  }
  return { redis, replicas, addReplica, stop };
}
