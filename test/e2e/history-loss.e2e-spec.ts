import { channelKeys } from '../../src/broker/redis/redis.broker';
import { startApp, TestApp } from '../support/app';
import { aNotification, aToken, aUserId, connect, publish, TestClient } from '../support/client';
import { startRedis, TestRedis } from '../support/redis';
import { waitUntil } from '../support/wait';

/**
 * A Redis crash between AOF fsyncs (`appendfsync everysec`) can lose its last acknowledged writes and
 * keep the rest: offsets that clients already received then go to new notifications in the same epoch,
 * and clients would drop those as duplicates. Simulated here by rolling a channel back by two writes.
 */
describe('offsets reused after Redis lost acknowledged writes', () => {
  let redis: TestRedis;
  let app: TestApp;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    app = await startApp({ REDIS_URL: redis.url });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await app?.kill();
    await redis?.stop();
  });

  /** Three notifications delivered to a connected client, then the channel rolled back to offset 1. */
  async function deliverThenLoseTwo(label: string) {
    const user = aUserId(label);
    const client = await connect(app, aToken({ sub: user }));
    clients.push(client);
    for (let n = 1; n <= 3; n++) await publish(app, aNotification([user], { n }));
    const delivered = await client.waitForNotifications(3);
    // What the crash leaves: the channel as it was after offset 1 (meta and stream alike).
    const keys = channelKeys(`user:${user}`);
    const [[, [field, data]]] = await redis.client().xrange(keys.history, '1-0', '1-0');
    await redis.client().multi().del(keys.history).xadd(keys.history, '1-0', field, data).exec();
    await redis.client().hset(keys.meta, 'offset', 1);
    return { user, client, keys, epoch: delivered[2].epoch };
  }

  it('starts a new epoch, so that clients learn of the loss instead of losing notifications silently', async () => {
    const { user, client, keys, epoch } = await deliverThenLoseTwo('lost');
    const reused = await Promise.all([
      publish(app, aNotification([user], { n: 4 })),
      publish(app, aNotification([user], { n: 5 })),
    ]);
    expect(reused.map(({ body }) => body.deliveries?.[0])).toEqual(
      expect.arrayContaining([expect.objectContaining({ offset: 3, epoch })]),
    );

    // The replica saw a different notification at offset 3 of the same epoch and ended that life.
    await waitUntil(async () => (await redis.client().exists(keys.meta)) === 0, 5000, 'the life ended');
    const after = await publish(app, aNotification([user], { n: 6 }));
    const [next] = after.body.deliveries ?? [];
    expect(next.offset).toBe(1);
    expect(next.epoch).not.toBe(epoch);
    const [newest] = (await client.waitForNotifications(4)).slice(3);
    expect(newest).toMatchObject({ offset: 1, epoch: next.epoch, payload: { n: 6 } });

    // A client coming back from offset 3 of the old epoch is told it cannot be recovered.
    const back = await connect(app, aToken({ sub: user }), { query: { offset: 3, epoch } });
    clients.push(back);
    expect((await back.nextFrame('subscribed')).data).toMatchObject({ recovered: false, epoch: next.epoch });
  });

  it('notices the loss when catching up finds the channel behind what it dispatched', async () => {
    const { user, client, keys } = await deliverThenLoseTwo('behind');
    // The replica's subscription link drops and comes back (as after the crash): it catches up every
    // channel from history and finds this one at offset 1, below the 3 it dispatched.
    await redis.client().client('KILL', 'TYPE', 'PUBSUB');
    await waitUntil(async () => (await redis.client().exists(keys.meta)) === 0, 5000, 'the life ended');
    const [next] = (await publish(app, aNotification([user], { n: 4 }))).body.deliveries ?? [];
    expect(next.offset).toBe(1);
    const [newest] = (await client.waitForNotifications(4)).slice(3);
    expect(newest).toMatchObject({ offset: 1, epoch: next.epoch, payload: { n: 4 } });
  });
});
