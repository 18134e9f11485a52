import type { RedisTopology } from '../../src/config/redis-topology';
import type { EngineCommands } from '../../src/engine/engine-commands';
import { startRedisCluster, TestRedisCluster } from './redis-cluster';
import { startRedis, TestRedis } from './redis';

export type EngineName = 'memory' | 'redis' | 'redis-cluster';

/** A Redis deployment a twin runs on: one redis-server, or a Redis Cluster of the suite's own. */
export interface EngineServer {
  topology: RedisTopology;
  /** A client of its own for the store under test or for assertions (closed by teardown). */
  client(): Promise<EngineCommands>;
  /** Cuts every pub/sub connection to the deployment's masters (CLIENT KILL TYPE PUBSUB). */
  killSubscriptions(): Promise<void>;
}

/**
 * One twin of a memory/Redis pair, as a contract suite uses it: `describe.each(engineTwins(…))` runs
 * the same cases against the memory engine, one Redis, and a Redis Cluster (3 masters). The Redis
 * twins run on servers of the suite's own, started on the first `create()` and stopped by
 * `teardown()`.
 */
export interface EngineTwin<T> {
  name: EngineName;
  /** A new instance on this engine (Redis: each on its own connection to the suite's server). */
  create(): Promise<T>;
  /** The suite's deployment, for assertions on the Redis twins (undefined for memory, or before create). */
  server(): EngineServer | undefined;
  teardown(): Promise<void>;
}

export interface TwinFactories<T> {
  memory(): T;
  /** On the suite's deployment (`server.client()` gives a client of its own, closed by teardown). */
  redis(server: EngineServer): T | Promise<T>;
  /** Closes an instance before teardown stops the server (e.g. a broker's subscriptions). */
  close?: (instance: T) => Promise<void>;
}

function singleServer(redis: TestRedis): EngineServer {
  return {
    topology: { mode: 'single', url: redis.url, minReplicasAck: 0 },
    client: () => Promise.resolve(redis.client()),
    killSubscriptions: async () => {
      await redis.client().client('KILL', 'TYPE', 'PUBSUB');
    },
  };
}

function clusterServer(cluster: TestRedisCluster): EngineServer {
  const seeds = cluster.seeds.split(',').map((seed) => {
    const [host, port] = seed.split(':');
    return { host, port: Number(port) };
  });
  return {
    topology: { mode: 'cluster', seeds, minReplicasAck: 0 },
    client: () => cluster.client({ enableAutoPipelining: true }),
    killSubscriptions: async () => {
      const masters = (await cluster.nodes()).filter((node) => node.role === 'master' && !node.failed);
      await Promise.all(
        masters.map((node) => cluster.nodeClient(node.port).client('KILL', 'TYPE', 'PUBSUB')),
      );
    },
  };
}

/** The memory, the one-Redis and the Redis Cluster twin made by `factories`, in that order. */
export function engineTwins<T>(factories: TwinFactories<T>): EngineTwin<T>[] {
  const close = factories.close ?? (() => Promise.resolve());
  const closeAll = async (instances: T[]) => {
    await Promise.all(instances.splice(0).map(close));
  };

  const memoryInstances: T[] = [];
  const memory: EngineTwin<T> = {
    name: 'memory',
    create: () => {
      const instance = factories.memory();
      memoryInstances.push(instance);
      return Promise.resolve(instance);
    },
    server: () => undefined,
    teardown: () => closeAll(memoryInstances),
  };

  const onRedis = (
    name: EngineName,
    start: () => Promise<{ server: EngineServer; stop(): Promise<void> }>,
  ): EngineTwin<T> => {
    let deployment: { server: EngineServer; stop(): Promise<void> } | undefined;
    const instances: T[] = [];
    return {
      name,
      create: async () => {
        deployment ??= await start();
        const instance = await factories.redis(deployment.server);
        instances.push(instance);
        return instance;
      },
      server: () => deployment?.server,
      teardown: async () => {
        await closeAll(instances);
        await deployment?.stop();
        deployment = undefined;
      },
    };
  };

  const redis = onRedis('redis', async () => {
    const server = await startRedis();
    return { server: singleServer(server), stop: () => server.stop() };
  });
  const cluster = onRedis('redis-cluster', async () => {
    const started = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
    return { server: clusterServer(started), stop: () => started.stop() };
  });
  return [memory, redis, cluster];
}
