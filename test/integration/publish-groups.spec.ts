import type Redis from 'ioredis';
import type { NotificationDraft, PublishRequest } from '../../src/broker/broker';
import { channelKeys, RedisBroker } from '../../src/broker/redis/redis.broker';
import { EngineUnavailableError } from '../../src/common/errors';
import { connectRedisEngine } from '../../src/engine/redis-engine';
import { Metrics } from '../../src/metrics/metrics';
import { startRedis, TestRedis } from '../support/redis';
import { waitUntil } from '../support/wait';

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
