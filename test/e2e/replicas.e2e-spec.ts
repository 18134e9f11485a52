import { TestApp } from '../support/app';
import {
  aNotification,
  aToken,
  aUserId,
  connect,
  publish,
  publishMarker,
  TestClient,
} from '../support/client';
import { startCluster, TestCluster } from '../support/cluster';

/** Two replicas on one Redis: a publish on either reaches every device of the user, wherever it is. */
describe('two replicas on one Redis', () => {
  let cluster: TestCluster;
  let a: TestApp;
  let b: TestApp;
  const clients: TestClient[] = [];
  const track = (client: TestClient) => (clients.push(client), client);

  beforeAll(async () => {
    cluster = await startCluster(2);
    [a, b] = cluster.replicas;
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('delivers a notification published on replica A to a client on replica B', async () => {
    const user = aUserId('alice');
    const client = track(await connect(b, aToken({ sub: user })));
    const response = await publish(a, aNotification([user], { orderId: 42 }, 'order.shipped'));
    expect(response.status).toBe(202);
    const [notification] = await client.waitForNotifications(1);
    expect(notification).toEqual({
      id: response.body.id,
      channel: `user:${user}`,
      offset: 1,
      epoch: response.body.deliveries?.[0].epoch,
      type: 'order.shipped',
      payload: { orderId: 42 },
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as unknown,
    });
  });

  it('gives a user with three devices on two replicas each notification once per device', async () => {
    const user = aUserId('multi');
    const token = aToken({ sub: user });
    const devices = [await connect(a, token), await connect(a, token), await connect(b, token)].map(track);
    await publish(a, aNotification([user], { n: 1 }));
    await publish(b, aNotification([user], { n: 2 }));
    for (const device of devices) {
      const received = await device.waitForNotifications(2);
      expect(received.map((n) => n.payload)).toEqual([{ n: 1 }, { n: 2 }]);
    }
    const marker = await publishMarker(b, { users: [user] });
    for (const device of devices) expect(await device.notificationsBefore(marker)).toHaveLength(2);
  });

  it("never shows one user another user's notification", async () => {
    const [alice, bob] = [aUserId('alice'), aUserId('bob')];
    const aliceClient = track(await connect(a, aToken({ sub: alice })));
    const bobClient = track(await connect(b, aToken({ sub: bob })));
    await publish(a, aNotification([alice], { secret: 'for alice' }));
    await publish(b, aNotification([bob], { marker: true }));
    await aliceClient.waitForNotifications(1);
    await bobClient.waitForNotifications(1);
    expect(bobClient.notifications().map((n) => n.payload)).toEqual([{ marker: true }]);
    expect(aliceClient.notifications().map((n) => n.payload)).toEqual([{ secret: 'for alice' }]);
    bobClient.send('subscribe', { channel: `user:${alice}` });
    const refusal = await bobClient.nextFrame('error');
    expect(refusal.data).toMatchObject({ code: 'forbidden', channel: `user:${alice}` });
  });

  it('delivers topics only to connections that subscribed and were allowed', async () => {
    const topic = `orders.${Date.now()}`;
    const allowed = track(await connect(a, aToken({ topics: ['orders.*'] })));
    const exact = track(await connect(b, aToken({ topics: [topic] })));
    const forbidden = track(await connect(b, aToken({ topics: ['invoices.*'] })));
    const notSubscribed = track(await connect(a, aToken({ topics: ['*'] })));
    for (const client of [allowed, exact, forbidden]) client.send('subscribe', { channel: `topic:${topic}` });
    expect((await allowed.nextFrame('subscribed')).data).toMatchObject({
      channel: `topic:${topic}`,
      offset: 0,
    });
    expect((await exact.nextFrame('subscribed')).data).toMatchObject({
      channel: `topic:${topic}`,
      offset: 0,
    });
    expect((await forbidden.nextFrame('error')).data).toMatchObject({
      code: 'forbidden',
      channel: `topic:${topic}`,
    });
    const response = await publish(b, { topics: [topic], type: 'order.created', payload: { id: 1 } });
    expect(response.body.deliveries).toEqual([
      { channel: `topic:${topic}`, offset: 1, epoch: expect.any(String) as unknown },
    ]);
    await allowed.waitForNotifications(1, `topic:${topic}`);
    await exact.waitForNotifications(1, `topic:${topic}`);
    // The two are not on the topic: the marker comes on the broadcast channel of their connections.
    const afterPublish = await publishMarker(a, { broadcast: true });
    expect(await forbidden.notificationsBefore(afterPublish)).toEqual([]);
    expect(await notSubscribed.notificationsBefore(afterPublish)).toEqual([]);
    allowed.send('unsubscribe', { channel: `topic:${topic}` });
    await allowed.nextFrame('unsubscribed');
    await publish(a, { topics: [topic], type: 'order.created', payload: { id: 2 } });
    await exact.waitForNotifications(2, `topic:${topic}`);
    const afterUnsubscribe = await publishMarker(b, { broadcast: true });
    expect(await allowed.notificationsBefore(afterUnsubscribe, `topic:${topic}`)).toHaveLength(1);
  });

  it('reaches every connection on every replica with a broadcast', async () => {
    const everyone = [
      await connect(a, aToken()),
      await connect(b, aToken()),
      await connect(b, aToken({ sub: aUserId('x') })),
    ].map(track);
    const response = await publish(a, { broadcast: true, type: 'maintenance', payload: { at: 'now' } });
    expect(response.status).toBe(202);
    const offset = response.body.deliveries?.[0].offset;
    for (const client of everyone) {
      const [notification] = await client.waitForNotifications(1, 'broadcast');
      expect(notification).toMatchObject({ channel: 'broadcast', offset, payload: { at: 'now' } });
    }
  });
});
