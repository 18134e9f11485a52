import WebSocket from 'ws';
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
import { getJson } from '../support/http';
import { TestRedis } from '../support/redis';
import { range, startCluster, TestCluster } from '../support/cluster';
import { sleep, waitUntil } from '../support/wait';

/** Redis goes away and comes back: clients stay connected and lose nothing that was accepted. */
describe('Redis outage', () => {
  let cluster: TestCluster;
  let redis: TestRedis;
  let a: TestApp;
  let b: TestApp;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    cluster = await startCluster(2, {}, { appendonly: true, shared: false });
    ({ redis } = cluster);
    [a, b] = cluster.replicas;
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await cluster?.stop();
  });

  it('answers 503 while Redis is down, keeps clients connected, and delivers again once it is back', async () => {
    const user = aUserId('outage');
    const client = await connect(a, aToken({ sub: user }));
    clients.push(client);
    await publish(b, aNotification([user], { n: 1 }));
    await client.waitForNotifications(1);

    await redis.shutdown();
    const refused = await publish(b, aNotification([user], { n: 'lost' }));
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
    expect((await getJson(`${a.url}/health/ready`)).status).toBe(503);
    expect(client.socket.readyState).toBe(WebSocket.OPEN);

    await redis.restart();
    await waitUntil(
      async () => (await getJson(`${a.url}/health/ready`)).status === 200,
      10_000,
      'A ready again',
    );
    await waitUntil(
      async () => (await getJson(`${b.url}/health/ready`)).status === 200,
      10_000,
      'B ready again',
    );
    const accepted = await publish(b, aNotification([user], { n: 2 }));
    expect(accepted.status).toBe(202);
    const received = await client.waitForNotifications(2);
    expect(received.map((n) => n.offset)).toEqual([1, 2]);
    expect(received[1].epoch).toBe(received[0].epoch);
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
  }, 30_000);

  it("replays, itself, what was published while only this replica's subscriber link was cut", async () => {
    const user = aUserId('cut');
    const client = await connect(a, aToken({ sub: user }));
    clients.push(client);
    let publishing = true;
    let accepted = 0;
    const publisher = (async () => {
      while (publishing) {
        const response = await publish(b, aNotification([user], { n: accepted + 1 }));
        if (response.status === 202) accepted += 1;
        await sleep(2);
      }
    })();
    await waitUntil(() => accepted >= 20, 5000, '20 accepted');
    // Cut every pub/sub link (A's and B's); publishing through B's command link goes on meanwhile.
    const killed = await redis.client().client('KILL', 'TYPE', 'PUBSUB');
    expect(Number(killed)).toBeGreaterThanOrEqual(2);
    await sleep(500);
    publishing = false;
    await publisher;
    await client.waitForNotifications(accepted, `user:${user}`, 10_000);
    const received = await client.notificationsBefore(await publishMarker(b, { users: [user] }));
    expect(received.map((n) => n.offset)).toEqual(range(1, accepted));
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
    expect(a.output()).toContain('subscription link restored; catching up');
  }, 30_000);
});
