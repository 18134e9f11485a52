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
import { TestRedis } from '../support/redis';
import { startCluster, TestCluster } from '../support/cluster';

/** Idempotency-Key: a retry, on any replica, returns the first response and delivers nothing new. */
describe('idempotent publishing', () => {
  let cluster: TestCluster;
  let redis: TestRedis;
  let a: TestApp;
  let b: TestApp;
  let client: TestClient | undefined;

  beforeAll(async () => {
    cluster = await startCluster(2);
    ({ redis } = cluster);
    [a, b] = cluster.replicas;
  });
  afterEach(async () => {
    await client?.close();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('delivers once and answers identically when the same key reaches two replicas at once', async () => {
    const user = aUserId('idem');
    client = await connect(a, aToken({ sub: user }));
    const key = `order-42-shipped-${user}`;
    const body = aNotification([user], { orderId: 42 });
    const responses = await Promise.all(
      [a, b, a, b, a, b].map((app) => publish(app, body, { headers: { 'Idempotency-Key': key } })),
    );
    expect(responses.map((r) => r.status)).toEqual([202, 202, 202, 202, 202, 202]);
    expect(new Set(responses.map((r) => JSON.stringify(r.body))).size).toBe(1);
    expect(responses.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(5);
    await client.waitForNotifications(1);
    await publish(a, aNotification([user], { marker: true }));
    const received = await client.waitForNotifications(2);
    expect(received.map((n) => n.payload)).toEqual([{ orderId: 42 }, { marker: true }]);
  });

  it('replays a later retry with the first response and the Idempotent-Replayed header', async () => {
    const user = aUserId();
    const key = `k-${user}`;
    const first = await publish(a, aNotification([user]), { headers: { 'Idempotency-Key': key } });
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const retry = await publish(
      b,
      { payload: { n: 1 }, type: 'test.event', users: [user] },
      { headers: { 'Idempotency-Key': key } },
    );
    expect(retry.status).toBe(202);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body).toEqual(first.body);
  });

  it('refuses the same key with a different body with 422', async () => {
    const user = aUserId();
    const key = `k-${user}`;
    await publish(a, aNotification([user], { n: 1 }), { headers: { 'Idempotency-Key': key } });
    const other = await publish(b, aNotification([user], { n: 2 }), { headers: { 'Idempotency-Key': key } });
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ statusCode: 422, error: 'Unprocessable Entity' });
  });

  it('completes a publish that failed half-way on retry, storing nothing twice', async () => {
    const [ok, broken] = [aUserId('half'), aUserId('broken')];
    const okClient = await connect(b, aToken({ sub: ok }));
    client = okClient;
    // A value of the wrong type under the second channel's meta key makes its script fail after the
    // first channel's script has stored: the request as a whole fails with 503.
    await redis.client().set(`herald:{user:${broken}}:meta`, 'not a hash');
    const body = { users: [ok, broken], type: 'test.event', payload: { n: 1 } };
    const headers = { 'Idempotency-Key': `half-${ok}` };
    const failed = await publish(a, body, { headers });
    expect(failed.status).toBe(503);
    await okClient.waitForNotifications(1);
    await redis.client().del(`herald:{user:${broken}}:meta`);
    const retried = await publish(b, body, { headers });
    expect(retried.status).toBe(202);
    expect(retried.body.deliveries?.map((d) => [d.channel, d.offset])).toEqual([
      [`user:${ok}`, 1],
      [`user:${broken}`, 1],
    ]);
    const brokenClient = await connect(a, aToken({ sub: broken }), {
      query: { offset: 0, epoch: retried.body.deliveries?.[1].epoch ?? '' },
    });
    const [late] = await brokenClient.waitForNotifications(1);
    await brokenClient.close();
    expect(late.id).toBe(retried.body.id);
    const marker = await publishMarker(a, { users: [ok] });
    expect((await okClient.notificationsBefore(marker)).map((n) => [n.offset, n.id])).toEqual([
      [1, retried.body.id],
    ]);
  });
});
