import calculateSlot from 'cluster-key-slot';
import { OTHER_API_KEY, TEST_API_KEY, TestApp } from '../support/app';
import {
  aNotification,
  aToken,
  aUserId,
  connect,
  publish,
  publishMarker,
  TestClient,
} from '../support/client';
import { range, startReplicasOnRedisCluster, TestReplicasOnRedisCluster } from '../support/cluster';
import { getJson } from '../support/http';
import { RedisClusterNode } from '../support/redis-cluster';
import { waitUntil } from '../support/wait';

/** The sharded pub/sub channel of a Herald channel (`user:<id>`, `topic:<name>`, `broadcast`). */
const pubsubOf = (channel: string) => `herald:{${channel}}`;

/**
 * Three replicas on one 3-master/3-replica Redis Cluster: every v1 guarantee across replicas, with
 * notifications on sharded pub/sub (SPUBLISH/SSUBSCRIBE) only.
 */
describe('on a Redis Cluster', () => {
  let sut: TestReplicasOnRedisCluster;
  let replicas: TestApp[];
  let masters: RedisClusterNode[];
  const clients: TestClient[] = [];
  const track = (client: TestClient) => (clients.push(client), client);

  /** Subscribers of the shard channel on the master serving its slot (PUBSUB SHARDNUMSUB). */
  const shardSubscribers = async (channel: string): Promise<number> => {
    const master = await sut.redis.masterOf(pubsubOf(channel));
    const [, count] = (await sut.redis
      .nodeClient(master.port)
      .call('PUBSUB', 'SHARDNUMSUB', pubsubOf(channel))) as [string, number];
    return count;
  };

  /** `perMaster` fresh user ids for each master, by the slot of their personal channel. */
  const usersOnEveryMaster = (perMaster: number, label: string): string[][] =>
    masters.map((master) => {
      const users: string[] = [];
      while (users.length < perMaster) {
        const user = aUserId(label);
        const slot = calculateSlot(pubsubOf(`user:${user}`));
        if (master.slots.some(([first, last]) => slot >= first && slot <= last)) users.push(user);
      }
      return users;
    });

  beforeAll(async () => {
    // One replica at a time: three starting at once beside six redis-servers on a busy machine can
    // pass startApp's ready timeout.
    sut = await startReplicasOnRedisCluster(0);
    for (let i = 0; i < 3; i++) await sut.addReplica();
    replicas = [...sut.replicas];
    masters = (await sut.redis.nodes()).filter((node) => node.role === 'master');
  }, 120_000);
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await sut?.stop();
  });

  it('delivers a notification published on one replica to a user connected on another', async () => {
    const user = aUserId('cluster');
    const client = track(await connect(replicas[0], aToken({ sub: user })));
    const response = await publish(replicas[1], aNotification([user], { n: 1 }));
    expect(response.status).toBe(202);
    await waitUntil(() => client.notifications(`user:${user}`).length === 1, 5000, 'the notification');
  });

  it('answers /health/ready 200 on every replica', async () => {
    for (const replica of replicas) expect((await getJson(`${replica.url}/health/ready`)).status).toBe(200);
  });

  it('gives every device 1..n once, in order, on channels of all 3 masters while 3 replicas publish at once', async () => {
    const perUser = 90;
    const users = usersOnEveryMaster(2, 'order').flat();
    const devices = new Map<string, TestClient[]>();
    for (const user of users) {
      const token = aToken({ sub: user });
      devices.set(
        user,
        await Promise.all(replicas.map(async (replica) => track(await connect(replica, token)))),
      );
    }
    // Each replica publishes a third of every user's notifications, 6 requests in flight at a time.
    const publishFrom = async (replica: TestApp, share: number) => {
      const queue = range(0, perUser - 1)
        .filter((n) => n % replicas.length === share)
        .flatMap((n) => users.map((user) => ({ user, n })));
      await Promise.all(
        range(1, 6).map(async () => {
          for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
            const response = await publish(replica, aNotification([next.user], { n: next.n }));
            expect(response.status).toBe(202);
          }
        }),
      );
    };
    await Promise.all(replicas.map((replica, share) => publishFrom(replica, share)));
    for (const [user, clientsOfUser] of devices) {
      for (const device of clientsOfUser) {
        const received = await device.waitForNotifications(perUser, `user:${user}`, 20_000);
        expect(received.map((n) => n.offset)).toEqual(range(1, perUser));
        expect(new Set(received.map((n) => (n.payload as { n: number }).n)).size).toBe(perUser);
      }
      const marker = await publishMarker(replicas[0], { users: [user] });
      for (const device of clientsOfUser)
        expect(await device.notificationsBefore(marker)).toHaveLength(perUser);
    }
  }, 90_000);

  it('holds a shard subscription for a user only on the replicas holding them, and none on classic pub/sub', async () => {
    const user = aUserId('routed');
    const channel = `user:${user}`;
    const [a, b, c] = replicas;
    const token = aToken({ sub: user });
    expect(await shardSubscribers(channel)).toBe(0);

    const onA = track(await connect(a, token));
    const secondOnA = track(await connect(a, token));
    expect(await shardSubscribers(channel)).toBe(1);
    const onB = track(await connect(b, token));
    expect(await shardSubscribers(channel)).toBe(2);

    // Published on C, which holds no connection of the user.
    expect((await publish(c, aNotification([user]))).status).toBe(202);
    for (const client of [onA, secondOnA, onB]) await client.waitForNotifications(1, channel);

    // No node, master or replica, has a classic subscriber of any Herald channel.
    for (const node of await sut.redis.nodes()) {
      const redis = sut.redis.nodeClient(node.port);
      expect(await redis.call('PUBSUB', 'NUMSUB', pubsubOf(channel), pubsubOf('broadcast'))).toEqual([
        pubsubOf(channel),
        0,
        pubsubOf('broadcast'),
        0,
      ]);
      expect(await redis.call('PUBSUB', 'CHANNELS', 'herald:*')).toEqual([]);
    }

    await onB.close();
    await waitUntil(async () => (await shardSubscribers(channel)) === 1, 5000, 'replica B to sunsubscribe');
    await onA.close();
    expect(await shardSubscribers(channel)).toBe(1);
    await secondOnA.close();
    await waitUntil(async () => (await shardSubscribers(channel)) === 0, 5000, 'replica A to sunsubscribe');
  });

  it('recovers on another replica from offset and epoch, with every missed notification', async () => {
    const user = aUserId('recover');
    const channel = `user:${user}`;
    const token = aToken({ sub: user });
    const first = track(await connect(replicas[0], token));
    for (const n of [1, 2, 3])
      expect((await publish(replicas[2], aNotification([user], { n }))).status).toBe(202);
    const seen = await first.waitForNotifications(3, channel);
    await first.close();
    for (const n of [4, 5, 6, 7])
      expect((await publish(replicas[2], aNotification([user], { n }))).status).toBe(202);

    const again = track(
      await connect(replicas[1], token, { query: { offset: seen[2].offset, epoch: seen[2].epoch } }),
    );
    const subscribed = await again.nextFrame('subscribed');
    expect(subscribed.data).toEqual({ channel, offset: 7, epoch: seen[2].epoch, recovered: true });
    expect((await publish(replicas[0], aNotification([user], { n: 8 }))).status).toBe(202);
    const received = await again.waitForNotifications(5, channel);
    expect(received.map((n) => [n.offset, n.payload])).toEqual(range(4, 8).map((n) => [n, { n }]));
    const marker = await publishMarker(replicas[2], { users: [user] });
    expect(await again.notificationsBefore(marker, channel)).toHaveLength(5);
  });

  it('recovers a topic on another replica with subscribe from offset and epoch', async () => {
    const topic = `topic:cluster.recover.${aUserId()}`;
    const token = aToken({ topics: ['cluster.*'] });
    const first = track(await connect(replicas[1], token));
    first.send('subscribe', { channel: topic });
    await first.nextFrame('subscribed');
    const name = topic.slice('topic:'.length);
    for (const n of [1, 2])
      expect((await publish(replicas[0], { topics: [name], type: 'e', payload: { n } })).status).toBe(202);
    const seen = await first.waitForNotifications(2, topic);
    await first.close();
    for (const n of [3, 4])
      expect((await publish(replicas[0], { topics: [name], type: 'e', payload: { n } })).status).toBe(202);

    const again = track(await connect(replicas[2], token));
    again.send('subscribe', { channel: topic, offset: 2, epoch: seen[1].epoch });
    expect((await again.nextFrame('subscribed')).data).toEqual({
      channel: topic,
      offset: 4,
      epoch: seen[1].epoch,
      recovered: true,
    });
    const received = await again.waitForNotifications(2, topic);
    expect(received.map((n) => n.payload)).toEqual([{ n: 3 }, { n: 4 }]);
  });

  it('stores and delivers once when the same Idempotency-Key reaches three replicas at once', async () => {
    const user = aUserId('idem');
    const client = track(await connect(replicas[0], aToken({ sub: user })));
    const body = aNotification([user], { orderId: 42 });
    const headers = { 'Idempotency-Key': `order-42-${user}` };
    const responses = await Promise.all(
      [0, 1, 2, 0, 1, 2].map((i) => publish(replicas[i], body, { headers })),
    );
    expect(responses.map((r) => r.status)).toEqual([202, 202, 202, 202, 202, 202]);
    expect(new Set(responses.map((r) => JSON.stringify(r.body))).size).toBe(1);
    expect(responses.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(5);
    const marker = await publishMarker(replicas[1], { users: [user] });
    const received = await client.notificationsBefore(marker);
    expect(received.map((n) => [n.id, n.offset, n.payload])).toEqual([
      [responses[0].body.id, 1, { orderId: 42 }],
    ]);
  });

  it('counts in presence the connections a user holds on every replica', async () => {
    const user = aUserId('presence');
    const token = aToken({ sub: user });
    const presence = async () =>
      (await getJson(`${replicas[2].url}/v1/presence/${user}`, { authorization: `Bearer ${TEST_API_KEY}` }))
        .body;
    expect(await presence()).toEqual({ userId: user, online: false, connections: 0 });
    const onA = track(await connect(replicas[0], token));
    track(await connect(replicas[1], token));
    track(await connect(replicas[1], token));
    expect(await presence()).toEqual({ userId: user, online: true, connections: 3 });
    await onA.close();
    await waitUntil(async () => (await presence()).connections === 2, 5000, 'presence to drop to 2');
  });

  it('delivers a topic to its subscribers on several replicas, subscribed only there', async () => {
    const name = `cluster.topic.${aUserId()}`;
    const topic = `topic:${name}`;
    const token = aToken({ topics: ['cluster.*'] });
    const subscribers = [track(await connect(replicas[0], token)), track(await connect(replicas[1], token))];
    for (const client of subscribers) {
      client.send('subscribe', { channel: topic });
      await client.nextFrame('subscribed');
    }
    expect(await shardSubscribers(topic)).toBe(2);
    const response = await publish(replicas[2], { topics: [name], type: 'e', payload: { n: 1 } });
    expect(response.body.deliveries).toEqual([
      { channel: topic, offset: 1, epoch: expect.any(String) as unknown },
    ]);
    for (const client of subscribers) {
      const [notification] = await client.waitForNotifications(1, topic);
      expect(notification.id).toBe(response.body.id);
    }
  });

  it('reaches every connection on every replica with a broadcast, on one shard channel subscribed by each', async () => {
    const everyone = await Promise.all(
      replicas.map(async (replica) => track(await connect(replica, aToken()))),
    );
    expect(await shardSubscribers('broadcast')).toBe(replicas.length);
    const response = await publish(replicas[1], { broadcast: true, type: 'e', payload: { all: true } });
    expect(response.status).toBe(202);
    for (const client of everyone) {
      const [notification] = await client.waitForNotifications(1, 'broadcast');
      expect(notification).toMatchObject({ id: response.body.id, payload: { all: true } });
    }
  });

  it('counts PUBLISH_RATE_LIMIT across replicas together, per API key', async () => {
    // Two more replicas on the same cluster, with the limit (the three above have none).
    const limited = [
      await sut.addReplica({ PUBLISH_RATE_LIMIT: '10' }),
      await sut.addReplica({ PUBLISH_RATE_LIMIT: '10' }),
    ];
    // The window opens with the first request and lasts a second: all 16 concurrent requests fall in it.
    const responses = await Promise.all(
      range(0, 15).map((i) => publish(limited[i % 2], aNotification(['limited']), { apiKey: OTHER_API_KEY })),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(6);
    const refused = responses.find((r) => r.status === 429);
    expect(refused?.headers['retry-after']).toBe('1');
    expect(refused?.body).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
    expect((await publish(limited[0], aNotification(['other']))).status).toBe(202);
    await waitUntil(
      async () =>
        (await publish(limited[1], aNotification(['limited']), { apiKey: OTHER_API_KEY })).status === 202,
      3000,
      'the next window to accept again',
      200,
    );
  }, 60_000);
});
