import type Redis from 'ioredis';
import type { NotificationDraft } from '../../src/broker/broker';
import { channelKeys, RedisBroker } from '../../src/broker/redis/redis.broker';
import { connectRedisEngine } from '../../src/engine/redis-engine';
import { Metrics } from '../../src/metrics/metrics';
import { startRedis, TestRedis } from '../support/redis';
import { waitUntil } from '../support/wait';

/**
 * The audit of acknowledged writes on one real Redis: after a reconnect, the notifications this
 * replica answered 202 for are looked up; a channel whose newest ones are missing (the Redis it
 * reached lost them: a failover to a replica that lagged, a restart that lost the last writes) starts
 * a new epoch, and a channel that lost nothing keeps its own. Each case on channels of its own.
 */
describe('acknowledged writes after a reconnect (one Redis)', () => {
  let redis: TestRedis;
  /** The test's one client: a cut of the broker's connections (SKIPME) leaves it connected. */
  let client: Redis;
  let broker: RedisBroker;
  let metrics: Metrics;
  let counter = 0;
  const aChannel = () => `user:acked-${process.pid}-${++counter}`;
  const aDraft = (n: number): NotificationDraft => ({
    id: `00000000-0000-4000-8000-${String(++counter * 1000 + n).padStart(12, '0')}`,
    type: 'test.acked',
    payload: { n },
    createdAt: '2026-12-01T00:00:00.000Z',
  });

  beforeAll(async () => {
    redis = await startRedis({ shared: false });
    client = redis.client();
    metrics = new Metrics();
    ({ broker } = await connectRedisEngine(
      { mode: 'single', url: redis.url, minReplicasAck: 0 },
      { historySize: 100, historyTtlSeconds: 600 },
      metrics,
    ));
  }, 30_000);
  afterAll(async () => {
    await broker?.close();
    await redis?.stop();
  });

  /** Makes Redis forget a channel's newest notification, as a replica that had not received it would. */
  const forgetNewest = async (channel: string) => {
    const keys = channelKeys(channel);
    const offset = Number(await client.hget(keys.meta, 'offset'));
    await client.xdel(keys.history, `${offset}-0`);
    await client.hset(keys.meta, 'offset', offset - 1);
  };
  const losses = async () => (await metrics.historyLosses.get()).values[0]?.value ?? 0;
  /** Cuts the broker's connections (the test's own client survives: SKIPME) and waits until it publishes again. */
  const reconnect = async (probe: string) => {
    await client.call('CLIENT', 'KILL', 'TYPE', 'normal');
    await waitUntil(
      async () =>
        (await broker.publish(aDraft(0), [probe]).then(
          () => true,
          () => false,
        )) === true,
      10_000,
      'the broker publishing again after the reconnect',
    );
  };

  it('starts a new epoch on a channel whose newest acknowledged notification is missing after a reconnect', async () => {
    const [kept, lost, probe] = [aChannel(), aChannel(), aChannel()];
    const [keptDelivery] = await broker.publish(aDraft(1), [kept]);
    await broker.publish(aDraft(1), [lost]);
    const [lostDelivery] = await broker.publish(aDraft(2), [lost]);
    await forgetNewest(lost);
    const before = await losses();

    await reconnect(probe);

    await waitUntil(
      async () => (await client.exists(channelKeys(lost).meta)) === 0,
      10_000,
      'the channel that lost a notification ended its epoch',
    );
    const [next] = await broker.publish(aDraft(3), [lost]);
    expect(next.offset).toBe(1);
    expect(next.epoch).not.toBe(lostDelivery.epoch);
    expect(await losses()).toBe(before + 1);
    // The older write on the other channel was found there: its epoch goes on.
    const [keptNext] = await broker.publish(aDraft(2), [kept]);
    expect(keptNext).toEqual({ channel: kept, offset: 2, epoch: keptDelivery.epoch });
  }, 30_000);

  it('keeps every epoch when nothing acknowledged is missing after a reconnect', async () => {
    const channel = aChannel();
    const [first] = await broker.publish(aDraft(1), [channel]);
    const before = await losses();

    await reconnect(aChannel());

    const [next] = await broker.publish(aDraft(2), [channel]);
    expect(next).toEqual({ channel, offset: 2, epoch: first.epoch });
    expect(await losses()).toBe(before);
  }, 30_000);
});
