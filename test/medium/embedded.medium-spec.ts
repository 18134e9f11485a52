import { aNotification, aToken, aUserId, connect, publish, TestClient } from '../support/client';
import { InProcessApp, startInProcessApp } from '../support/in-process';

/** REDIS_URL unset: the embedded engine, on one replica, with the same semantics. */
describe('embedded memory engine', () => {
  let app: InProcessApp;
  let client: TestClient | undefined;

  beforeAll(async () => {
    app = await startInProcessApp();
  });
  afterAll(async () => {
    await client?.close();
    await app?.close();
  });

  it('starts without Redis, connects, publishes and delivers in order', async () => {
    const user = aUserId('embedded');
    client = await connect(app, aToken({ sub: user, topics: ['news'] }));
    client.send('subscribe', { channel: 'topic:news' });
    await client.nextFrame('subscribed');
    const first = await publish(app, aNotification([user], { n: 1 }));
    const second = await publish(app, { users: [user], topics: ['news'], type: 'news', payload: { n: 2 } });
    expect(first.status).toBe(202);
    expect(second.body.deliveries?.map((d) => [d.channel, d.offset])).toEqual([
      [`user:${user}`, 2],
      ['topic:news', 1],
    ]);
    const personal = await client.waitForNotifications(2, `user:${user}`);
    expect(personal.map((n) => n.offset)).toEqual([1, 2]);
    await client.waitForNotifications(1, 'topic:news');
  });
});
