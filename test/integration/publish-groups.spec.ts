import calculateSlot from 'cluster-key-slot';
import type { Cluster, Redis } from 'ioredis';
import type { NotificationDraft, PublishRequest } from '../../src/broker/broker';
import { channelKeys, RedisBroker } from '../../src/broker/redis/redis.broker';
import { EngineUnavailableError } from '../../src/common/errors';
import type { EngineCommands } from '../../src/engine/engine-commands';
import { connectRedisEngine } from '../../src/engine/redis-engine';
import { Metrics } from '../../src/metrics/metrics';
import { startRedis, TestRedis } from '../support/redis';
import { RedisClusterNode, startRedisCluster, TestRedisCluster } from '../support/redis-cluster';
import { waitUntil } from '../support/wait';

const aDraftOf = (n: number): NotificationDraft => ({
  id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  type: 'test.groups',
  payload: { n },
  createdAt: '2026-12-01T00:00:00.000Z',
});

/**
 * On one Redis the publishes of one turn of the event loop go out together, in script calls of up to
 * 256 channel writes (see WriteGroups): a call that fails (its connection lost, say) fails every
 * publish it carried a write of, and is never sent again; a write that Redis refuses fails only its
 * own publish. The broker contract covers what succeeds; this covers what fails, on a real Redis of
 * the suite's own.
 */
describe('publish groups on one Redis', () => {
  let redis: TestRedis;
  /** The test's client: it pauses writers and cuts the broker's command connection. */
  let client: Redis;
  let broker: RedisBroker;
  let counter = 0;
  const aChannel = () => `user:groups-${process.pid}-${++counter}`;
  const aDraft = (): NotificationDraft => ({
    id: `00000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`,
    type: 'test.groups',
    payload: { n: counter },
    createdAt: '2026-12-01T00:00:00.000Z',
  });

  beforeAll(async () => {
    redis = await startRedis({ shared: false });
    client = redis.client();
    ({ broker } = await connectRedisEngine(
      { mode: 'single', url: redis.url, minReplicasAck: 0 },
      { historySize: 1000, historyTtlSeconds: 600 },
      new Metrics(),
    ));
  }, 30_000);
  afterAll(async () => {
    await client?.call('CLIENT', 'UNPAUSE');
    await broker?.close();
    await redis?.stop();
  });

  /** The id of the connection whose command waits on the pause: the broker's publish call. */
  const waitingPublisher = () =>
    waitUntil(
      async () => {
        const list = (await client.call('CLIENT', 'LIST', 'TYPE', 'normal')) as string;
        return /^id=(\d+) .*\bflags=\S*b\S* .*\bcmd=evalsha\b/m.exec(list)?.[1];
      },
      5000,
      "the broker's publish call waiting in Redis",
    );

  it('fails every publish of a group whose call fails, and sends none of them again', async () => {
    const [shared, alone] = [aChannel(), aChannel()];
    const [stored] = await broker.publish(aDraft(), [shared]);
    const batch: PublishRequest[] = Array.from({ length: 300 }, () => ({
      draft: aDraft(),
      channels: [shared, aChannel()],
    }));

    await client.call('CLIENT', 'PAUSE', '10000', 'WRITE');
    // One turn of the event loop: one group of 602 writes, in three calls.
    const outcomes = Promise.allSettled([
      broker.publishMany(batch),
      broker.publish(aDraft(), [alone]),
      broker.publish(aDraft(), [shared]),
    ]);
    await client.call('CLIENT', 'KILL', 'ID', await waitingPublisher());
    const settled = await outcomes;
    await client.call('CLIENT', 'UNPAUSE');

    for (const outcome of settled) {
      expect(outcome).toMatchObject({
        status: 'rejected',
        reason: expect.any(EngineUnavailableError) as unknown,
      });
    }
    const [next] = await waitUntil(
      () => broker.publish(aDraft(), [shared]).catch(() => false as const),
      10_000,
      'the broker publishing again after the reconnect',
    );
    // Nothing of the group was stored, now or later: the channel goes on from its last offset.
    expect(next).toEqual({ channel: shared, offset: stored.offset + 1, epoch: stored.epoch });
    expect(await client.exists(channelKeys(alone).meta, channelKeys(batch[0].channels[1]).meta)).toBe(0);
  }, 30_000);

  it('fails only the publish whose write Redis refuses, storing the others of its call', async () => {
    const [before, broken, after] = [aChannel(), aChannel(), aChannel()];
    // A key of the wrong type where the broken channel's meta hash belongs: its write fails in Redis.
    await client.set(channelKeys(broken).meta, 'not a hash');

    // One turn of the event loop: one call of four writes (the last publish has two channels).
    const [first, failed, last] = await Promise.allSettled([
      broker.publish(aDraft(), [before]),
      broker.publish(aDraft(), [broken]),
      broker.publish(aDraft(), [after, broken]),
    ]);

    expect(first).toMatchObject({ status: 'fulfilled', value: [{ channel: before, offset: 1 }] });
    for (const outcome of [failed, last]) {
      expect(outcome).toMatchObject({
        status: 'rejected',
        reason: expect.objectContaining({
          message: expect.stringContaining('WRONGTYPE') as unknown,
        }) as unknown,
      });
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(EngineUnavailableError);
    }
    // The failing publish's other channel is stored (as when its channels were separate calls): a
    // retry under its Idempotency-Key finds it there.
    expect((await broker.history(after, 0, 10)).offset).toBe(1);
    expect((await broker.history(before, 0, 10)).offset).toBe(1);
  }, 30_000);
});

/**
 * On a Redis Cluster the writes of one turn of the event loop go out as one script call per master,
 * carrying the writes of every slot it serves (keys undeclared, see publish.lua). A write its node's
 * call did not run — its slot moved or is moving — goes out again alone through the cluster client,
 * which follows the redirection; a node's call that fails fails only the publishes with a write on
 * that node. On a 3-master cluster of the suite's own, no Redis replicas.
 */
describe('publish groups on a Redis Cluster', () => {
  let cluster: TestRedisCluster;
  let commands: EngineCommands;
  let broker: RedisBroker;
  let counter = 0;
  const aDraft = () => aDraftOf(++counter);
  const slotOf = (channel: string) => calculateSlot(channelKeys(channel).meta);
  /** A new channel whose slot the master serves. */
  const aChannelOn = (master: RedisClusterNode): string => {
    for (;;) {
      const channel = `user:cluster-groups-${process.pid}-${++counter}`;
      const slot = slotOf(channel);
      if (master.slots.some(([first, last]) => slot >= first && slot <= last)) return channel;
    }
  };
  const masters = async () =>
    (await cluster.nodes()).filter((node) => node.role === 'master' && !node.failed);
  /**
   * A channel with one notification stored, to move from `source` to `target`, and another channel
   * that stays on `source`.
   */
  const aChannelToMove = async () => {
    const [source, target] = await masters();
    const [channel, staying] = [aChannelOn(source), aChannelOn(source)];
    const [first] = await broker.publish(aDraft(), [channel]);
    return { source, target, channel, staying, first, slot: slotOf(channel) };
  };
  /**
   * Script calls each master has run (EVALSHA and EVAL), leaving out the ones that failed — a NOSCRIPT
   * answer to an EVALSHA, after which the client sends the script itself.
   */
  const scriptCalls = (nodes: readonly RedisClusterNode[]) =>
    Promise.all(
      nodes.map(async ({ port }) => {
        const stats = (await cluster.nodeClient(port).info('commandstats')).split('\n');
        const ran = (command: string) => {
          const line = stats.find((entry) => entry.startsWith(`cmdstat_${command}:`)) ?? '';
          const field = (name: string) => Number(new RegExp(`\\b${name}=(\\d+)`).exec(line)?.[1] ?? 0);
          return field('calls') - field('failed_calls');
        };
        return ran('evalsha') + ran('eval');
      }),
    );

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
    const seeds = cluster.seeds.split(',').map((seed) => {
      const [host, port] = seed.split(':');
      return { host, port: Number(port) };
    });
    ({ commands, broker } = await connectRedisEngine(
      { mode: 'cluster', seeds, minReplicasAck: 0 },
      { historySize: 1000, historyTtlSeconds: 600 },
      new Metrics(),
    ));
    // Every master's connection open (a first publish to a master goes out alone: its connection opens
    // on first use), then a node call on each, which loads the script in its node form.
    for (let round = 0; round < 2; round++)
      await Promise.all((await masters()).map((master) => broker.publish(aDraft(), [aChannelOn(master)])));
  }, 60_000);
  afterAll(async () => {
    await broker?.close();
    await cluster?.stop();
  });

  it('sends one call per master for the writes of one turn, in order', async () => {
    const nodes = await masters();
    const channels = nodes.flatMap((master) => Array.from({ length: 10 }, () => aChannelOn(master)));
    const twice = channels[0];
    const before = await scriptCalls(nodes);

    const [batch, single] = await Promise.all([
      broker.publishMany(channels.map((channel) => ({ draft: aDraft(), channels: [channel] }))),
      broker.publish(aDraft(), [twice]),
    ]);

    expect(await scriptCalls(nodes)).toEqual(before.map((calls) => calls + 1));
    expect(batch.map(([delivery]) => delivery)).toEqual(
      channels.map((channel) => ({ channel, offset: 1, epoch: expect.any(String) as unknown })),
    );
    expect(single).toEqual([{ channel: twice, offset: 2, epoch: batch[0][0].epoch }]);
  }, 30_000);

  it('runs no write of a slot that is moving on its old master, and fails only that publish', async () => {
    const { target, channel: moving, staying, first, slot } = await aChannelToMove();
    let during: PromiseSettledResult<unknown>[] = [];

    await cluster.migrateSlot(slot, target.id, {
      // The keys are on the target, the slot still the source's: the source's call cannot run the
      // write, and the target answers TRYAGAIN to it alone (some of its keys do not exist yet).
      whileOpen: async () => {
        during = await Promise.allSettled([
          broker.publish(aDraft(), [staying]),
          broker.publish(aDraft(), [moving]),
        ]);
      },
    });

    expect(during).toEqual([
      { status: 'fulfilled', value: [{ channel: staying, offset: 1, epoch: expect.any(String) as unknown }] },
      { status: 'rejected', reason: expect.any(EngineUnavailableError) as unknown },
    ]);
    expect(await broker.publish(aDraft(), [moving])).toEqual([{ ...first, offset: 2 }]);
    expect((await broker.history(moving, 0, 10)).messages.map(({ offset }) => offset)).toEqual([1, 2]);
  }, 60_000);

  it('sends a write again alone when its master no longer serves its slot (a stale slot map, no script cached)', async () => {
    const { source, target, channel: moved, staying, first, slot } = await aChannelToMove();
    await cluster.migrateSlot(slot, target.id);
    // The broker's slot map still names the source, as it does until its next read of the map; the
    // target has no script cached (as a replica promoted by a failover).
    (commands as Cluster).slots[slot] = [`127.0.0.1:${source.port}`];
    await cluster.nodeClient(target.port).script('FLUSH');
    const before = await scriptCalls([source, target]);

    const outcomes = await Promise.all([
      broker.publish(aDraft(), [moved]),
      broker.publish(aDraft(), [staying]),
    ]);

    expect(outcomes).toEqual([
      [{ ...first, offset: 2 }],
      [{ channel: staying, offset: 1, epoch: expect.any(String) as unknown }],
    ]);
    // The source's call (both writes; it ran only the staying one), then the moved write alone on the target.
    expect(await scriptCalls([source, target])).toEqual([before[0] + 1, before[1] + 1]);
    expect((await broker.history(moved, 0, 10)).messages.map(({ offset }) => offset)).toEqual([1, 2]);
  }, 60_000);

  it('fails only the publishes with a write on the master whose call fails', async () => {
    const [lost, kept] = await masters();
    const [onLost, onKept] = [aChannelOn(lost), aChannelOn(kept)];
    const lostClient = cluster.nodeClient(lost.port);

    await lostClient.call('CLIENT', 'PAUSE', '10000', 'WRITE');
    try {
      const outcomes = Promise.allSettled([
        broker.publish(aDraft(), [onLost]),
        broker.publish(aDraft(), [onKept]),
        broker.publish(aDraft(), [onKept, onLost]),
      ]);
      const waiting = await waitUntil(
        async () => {
          const list = (await lostClient.call('CLIENT', 'LIST', 'TYPE', 'normal')) as string;
          return /^id=(\d+) .*\bflags=\S*b\S* .*\bcmd=eval(sha)?\b/m.exec(list)?.[1];
        },
        5000,
        "the broker's call waiting on the paused master",
      );
      await lostClient.call('CLIENT', 'KILL', 'ID', waiting);
      const [alone, elsewhere, both] = await outcomes;

      expect(alone).toMatchObject({
        status: 'rejected',
        reason: expect.any(EngineUnavailableError) as unknown,
      });
      expect(both).toMatchObject({
        status: 'rejected',
        reason: expect.any(EngineUnavailableError) as unknown,
      });
      expect(elsewhere).toMatchObject({ status: 'fulfilled', value: [{ channel: onKept, offset: 1 }] });
    } finally {
      await lostClient.call('CLIENT', 'UNPAUSE');
    }
    // The failed call's writes were never sent again: the lost master's channel starts at offset 1.
    const [next] = await waitUntil(
      () => broker.publish(aDraft(), [onLost]).catch(() => false as const),
      10_000,
      'the broker publishing to the master again',
    );
    expect(next).toMatchObject({ channel: onLost, offset: 1 });
    // The publish with both channels stored its other write (a retry under its Idempotency-Key finds it).
    expect((await broker.history(onKept, 0, 10)).offset).toBe(2);
  }, 60_000);
});
