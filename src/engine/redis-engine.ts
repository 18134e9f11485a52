import { Logger } from '@nestjs/common';
import type { Cluster } from 'ioredis';
import type Redis from 'ioredis';
import { ClassicPubSub } from '../broker/redis/classic-pubsub';
import type { PubSubLink } from '../broker/redis/pubsub-link';
import {
  clusterNodeOptions,
  connectOrFail,
  createCommandClient,
  createSentinelWatchers,
  createShardSubscriber,
  createSubscriberClient,
} from '../broker/redis/redis-client';
import { RedisBroker } from '../broker/redis/redis.broker';
import { SentinelFailoverHold } from '../broker/redis/sentinel-failover';
import { ShardedPubSub } from '../broker/redis/sharded-pubsub';
import type { RedisTopology } from '../config/redis-topology';
import type { Metrics } from '../metrics/metrics';
import type { EngineCommands } from './engine-commands';

/**
 * Connects to the deployment (one Redis, a Sentinel-managed master or a cluster) and starts the
 * broker on it; the stores share `commands`. Fails with a message naming the deployment's variable
 * when it is unreachable.
 */
export async function connectRedisEngine(
  topology: RedisTopology,
  history: { historySize: number; historyTtlSeconds: number },
  metrics: Metrics,
): Promise<{ commands: EngineCommands; broker: RedisBroker }> {
  const logger = new Logger('Redis');
  const commands = createCommandClient(topology, logger, () =>
    metrics.redisReconnects.inc({ role: 'commands' }),
  );
  const link = await connectLink(topology, commands, logger, metrics);
  const publishHold =
    topology.mode === 'sentinel'
      ? new SentinelFailoverHold(
          topology.masterName,
          commands as Redis,
          createSentinelWatchers(topology, logger),
        )
      : undefined;
  publishHold?.start();
  const broker = new RedisBroker(commands, link, {
    historySize: history.historySize,
    historyTtlSeconds: history.historyTtlSeconds,
    minReplicasAck: topology.minReplicasAck,
    onLostWrites: (channels) => metrics.historyLosses.inc(channels),
    publishHold,
  });
  await broker.start();
  return { commands, broker };
}

/** Connects the command client and the pub/sub link the mode uses: sharded on a cluster, classic otherwise. */
async function connectLink(
  topology: RedisTopology,
  commands: EngineCommands,
  logger: Logger,
  metrics: Metrics,
): Promise<PubSubLink> {
  if (topology.mode === 'cluster') {
    await connectOrFail(commands, topology);
    const options = clusterNodeOptions(topology);
    return new ShardedPubSub(commands as Cluster, (address) => createShardSubscriber(address, options), {
      subscriptions: (shard, channels) => metrics.redisShardSubscriptions.set({ shard }, channels),
      reconnect: (shard) => metrics.redisShardReconnects.inc({ shard }),
      resync: (shard, slots) => metrics.redisShardResyncs.inc({ shard }, slots),
    });
  }
  const subscriber = createSubscriberClient(topology, logger, () =>
    metrics.redisReconnects.inc({ role: 'subscriber' }),
  );
  await Promise.all([connectOrFail(commands, topology), connectOrFail(subscriber, topology)]);
  return new ClassicPubSub(subscriber);
}
