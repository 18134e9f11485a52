import { TestApp } from '../support/app';
import { aNotification, aToken, aUserId, connect, publish, TestClient } from '../support/client';
import { startCluster, TestCluster } from '../support/cluster';

/** Strict per-channel order with publishers on several replicas at once. */
describe('order under concurrency', () => {
  let cluster: TestCluster;
  let a: TestApp;
  let b: TestApp;
  let clients: TestClient[] = [];

  beforeAll(async () => {
    cluster = await startCluster(2);
    [a, b] = cluster.replicas;
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await cluster?.stop();
  });

  it('gives every device offsets 1..1000 exactly once, in order, when two replicas publish 500 each', async () => {
    const user = aUserId('order');
    const token = aToken({ sub: user });
    clients = [await connect(a, token), await connect(b, token)];
    const publishAll = async (app: TestApp, from: number) => {
      // 8 requests in flight per replica, so both replicas really interleave.
      const queue = Array.from({ length: 500 }, (_, i) => from + i);
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
            const response = await publish(app, aNotification([user], { n }));
            expect(response.status).toBe(202);
          }
        }),
      );
    };
    await Promise.all([publishAll(a, 0), publishAll(b, 500)]);
    for (const client of clients) {
      const received = await client.waitForNotifications(1000, `user:${user}`, 20_000);
      expect(received.map((n) => n.offset)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
      expect(new Set(received.map((n) => (n.payload as { n: number }).n)).size).toBe(1000);
    }
  }, 60_000);
});
