import { startApp, TestApp } from '../support/app';
import { aNotification, aToken, aUserId, connect, publish, TestClient } from '../support/client';
import { startRedis, TestRedis } from '../support/redis';
import { waitUntil } from '../support/wait';

/**
 * Interest-based fan-out: Redis carries a user's notifications only to the replicas holding a
 * connection of that user (unlike a broadcast-to-every-replica adapter).
 */
describe('interest-based routing', () => {
  let redis: TestRedis;
  let replicas: TestApp[];
  const clients: TestClient[] = [];

  const subscribers = async (channel: string): Promise<number> => {
    const [, count] = (await redis.client().pubsub('NUMSUB', `herald:{${channel}}`)) as [string, number];
    return count;
  };

  beforeAll(async () => {
    redis = await startRedis();
    replicas = await Promise.all([1, 2, 3].map(() => startApp({ REDIS_URL: redis.url })));
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all(replicas.map((replica) => replica.kill()));
    await redis?.stop();
  });

  it('subscribes a user channel only on replicas that hold the user, and drops it after the last leaves', async () => {
    const user = aUserId('routed');
    const channel = `user:${user}`;
    const [a, b, c] = replicas;
    const token = aToken({ sub: user });
    expect(await subscribers(channel)).toBe(0);

    const onA = await connect(a, token);
    const secondOnA = await connect(a, token);
    clients.push(onA, secondOnA);
    expect(await subscribers(channel)).toBe(1);

    const onB = await connect(b, token);
    clients.push(onB);
    expect(await subscribers(channel)).toBe(2);

    // Replica C holds no connection of the user: Redis has no subscriber there for the channel.
    const response = await publish(c, aNotification([user]));
    expect(response.status).toBe(202);
    const [, receivers] = await Promise.all([
      onA.waitForNotifications(1),
      redis.client().pubsub('NUMSUB', `herald:{${channel}}`),
    ]);
    expect(receivers).toEqual([`herald:{${channel}}`, 2]);
    await onB.waitForNotifications(1);

    await onB.close();
    await waitUntil(async () => (await subscribers(channel)) === 1, 5000, 'replica B to unsubscribe');
    await onA.close();
    expect(await subscribers(channel)).toBe(1);
    await secondOnA.close();
    await waitUntil(async () => (await subscribers(channel)) === 0, 5000, 'replica A to unsubscribe');
  });

  it('subscribes the broadcast channel on every replica', async () => {
    expect(await subscribers('broadcast')).toBe(3);
  });
});
