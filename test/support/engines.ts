import { startRedis, TestRedis } from './redis';

export type EngineName = 'memory' | 'redis';

/**
 * One twin of a memory/Redis pair, as a contract suite uses it: `describe.each(engineTwins(…))` runs
 * the same cases against both. The Redis twin runs on a redis-server of the suite's own, started on
 * the first `create()` and stopped by `teardown()`.
 */
export interface EngineTwin<T> {
  name: EngineName;
  /** A new instance on this engine (Redis: each on its own connection to the suite's server). */
  create(): Promise<T>;
  /** The suite's redis-server, for assertions on the Redis twin (undefined for memory, or before create). */
  redis(): TestRedis | undefined;
  teardown(): Promise<void>;
}

export interface TwinFactories<T> {
  memory(): T;
  /** On the suite's redis-server (`server.client()` gives a client of its own, closed by teardown). */
  redis(server: TestRedis): T | Promise<T>;
  /** Closes an instance before teardown stops the server (e.g. a broker's subscriptions). */
  close?: (instance: T) => Promise<void>;
}

/** The memory and the Redis twin made by `factories`, in that order. */
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
    redis: () => undefined,
    teardown: () => closeAll(memoryInstances),
  };

  let server: TestRedis | undefined;
  const redisInstances: T[] = [];
  const redis: EngineTwin<T> = {
    name: 'redis',
    create: async () => {
      server ??= await startRedis();
      const instance = await factories.redis(server);
      redisInstances.push(instance);
      return instance;
    },
    redis: () => server,
    teardown: async () => {
      await closeAll(redisInstances);
      await server?.stop();
      server = undefined;
    },
  };
  return [memory, redis];
}
