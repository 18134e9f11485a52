import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  HeraldError,
  HeraldPublisher,
  type RetryEvent,
} from '../../publisher/src';
import { TEST_API_KEY, TEST_JWT_SECRET, TestApp } from '../support/app';
import { aNotification, aUserId, connect, publish, TestClient } from '../support/client';
import { startCluster, TestCluster } from '../support/cluster';
import { FaultProxy, startFaultProxy } from '../support/fault-proxy';
import { waitUntil } from '../support/wait';

/**
 * The publisher SDK against a real Herald (a spawned replica on its own redis-server), reached through
 * a fault-injecting HTTP proxy. A real `ws` client connected straight to Herald counts what it
 * receives: every case ends with exactly one delivery per notification, proven by a marker published
 * after it on the same channel (per-channel order: once the marker is in, nothing else is on its way).
 */
describe(`${HeraldPublisher.name} against a real Herald`, () => {
  let cluster: TestCluster;
  let app: TestApp;
  let proxy: FaultProxy;
  let sut: HeraldPublisher;
  const retries: RetryEvent[] = [];
  const clients: TestClient[] = [];

  beforeAll(async () => {
    cluster = await startCluster(1);
    app = cluster.replicas[0];
    proxy = await startFaultProxy(app.url);
    sut = new HeraldPublisher({
      url: proxy.url,
      apiKey: TEST_API_KEY,
      retry: { baseDelayMs: 20, maxDelayMs: 200 },
      deadlineMs: 15_000,
      onRetry: (event) => retries.push(event),
      clientTokenKey: { secret: TEST_JWT_SECRET },
    });
  }, 30_000);

  afterEach(async () => {
    proxy.reset();
    retries.length = 0;
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });

  afterAll(async () => {
    await proxy?.close();
    await cluster?.stop();
  });

  /** A user connected straight to Herald with a token the SDK signed. */
  const aConnectedUser = async (label = 'pub'): Promise<{ userId: string; client: TestClient }> => {
    const userId = aUserId(label);
    const client = await connect(app, sut.signClientToken({ sub: userId, expiresIn: 300 }));
    clients.push(client);
    return { userId, client };
  };

  /** Publishes a marker straight to Herald and waits for it: everything published before it has arrived. */
  const settle = async (userId: string, client: TestClient): Promise<void> => {
    const marker = await publish(app, aNotification([userId], {}, 'marker'));
    expect(marker.status).toBe(202);
    await waitUntil(
      () => client.notifications().some((notification) => notification.id === marker.body.id),
      20_000,
      `the marker ${marker.body.id}`,
    );
  };

  const receivedOf = (client: TestClient, type: string) =>
    client.notifications().filter((notification) => notification.type === type);

  describe('publishing', () => {
    it('notify: delivered once; history has it; presence counts the connection', async () => {
      const { userId, client } = await aConnectedUser();

      const result = await sut.notify({ users: [userId], type: 'order.shipped', payload: { orderId: 42 } });

      await settle(userId, client);
      const received = receivedOf(client, 'order.shipped');
      expect(received.map((notification) => notification.id)).toEqual([result.id]);
      expect(received[0]).toMatchObject({ channel: `user:${userId}`, payload: { orderId: 42 }, offset: 1 });
      expect(result).toMatchObject({
        ids: [result.id],
        retries: 0,
        deliveries: [{ channel: `user:${userId}`, offset: 1 }],
      });

      const history = await sut.history(`user:${userId}`, { after: 0, limit: 10 });
      expect(history.channel).toBe(`user:${userId}`);
      expect(history.notifications.map((notification) => notification.id)).toContain(result.id);
      expect(history.notifications[0]).toEqual(received[0]);

      await expect(sut.presence(userId)).resolves.toEqual({ userId, online: true, connections: 1 });
      await expect(sut.presence(aUserId('nobody'))).resolves.toMatchObject({ online: false, connections: 0 });
    });

    it('notifyMany of 2,500 items: three batch requests of at most 1,000, each notification delivered once', async () => {
      const { userId, client } = await aConnectedUser();
      const bodies = Array.from({ length: 2500 }, (_, n) => ({
        users: [userId],
        type: 'bulk',
        payload: { n },
      }));

      const result = await sut.notifyMany(bodies);

      expect(result.results.filter((item) => 'error' in item)).toEqual([]);
      const batches = proxy.requests.filter((request) => request.path === '/v1/notifications/batch');
      // Sent concurrently: they may reach the proxy in any order.
      expect(batches.map((request) => request.itemKeys?.length ?? 0).sort((a, b) => a - b)).toEqual([
        500, 1000, 1000,
      ]);
      expect(new Set(batches.flatMap((request) => request.itemKeys)).size).toBe(2500);
      await settle(userId, client);
      const received = receivedOf(client, 'bulk');
      expect(received).toHaveLength(2500);
      expect(new Set(received.map((notification) => (notification.payload as { n: number }).n)).size).toBe(
        2500,
      );
      expect(received.map((notification) => notification.offset)).toEqual(
        Array.from({ length: 2500 }, (_, i) => i + 1),
      );
    });

    it('a publish to 10,000 users is split into parts that each fit MAX_PAYLOAD_BYTES; each user gets it once', async () => {
      const first = await aConnectedUser('first');
      const last = await aConnectedUser('last');
      const users = [
        first.userId,
        ...Array.from({ length: 9998 }, () => aUserId('bulk-target')),
        last.userId,
      ];

      const result = await sut.notify({
        users,
        topics: ['announcements'],
        type: 'split',
        payload: { text: 'hi' },
      });

      expect(result.ids.length).toBeGreaterThan(1);
      expect(new Set(result.ids).size).toBe(result.ids.length);
      expect(result.deliveries).toHaveLength(10_001);
      expect(new Set(result.deliveries.map((delivery) => delivery.channel)).size).toBe(10_001);
      const [batch] = proxy.requests;
      expect(batch.path).toBe('/v1/notifications/batch');
      expect(batch.itemKeys).toEqual(result.ids.map((_, i) => `${result.idempotencyKey}:part${i}`));
      expect(batch.bodyBytes).toBeGreaterThan(DEFAULT_MAX_PAYLOAD_BYTES);
      for (const bytes of batch.itemBytes ?? []) expect(bytes).toBeLessThanOrEqual(DEFAULT_MAX_PAYLOAD_BYTES);
      for (const { userId, client } of [first, last]) {
        await settle(userId, client);
        expect(receivedOf(client, 'split')).toHaveLength(1);
      }
    });

    it('signClientToken (HS256) signs a token Herald accepts, topics included', async () => {
      const userId = aUserId('signed');
      const client = await connect(app, sut.signClientToken({ sub: userId, topics: ['orders.*'] }));
      clients.push(client);

      expect(client.frames.find((frame) => frame.event === 'ready')?.data).toMatchObject({ userId });
      client.send('subscribe', { channel: 'topic:orders.42' });
      expect((await client.nextFrame('subscribed')).data).toMatchObject({ channel: 'topic:orders.42' });
      client.send('subscribe', { channel: 'topic:billing' });
      expect((await client.nextFrame('error')).data).toMatchObject({ code: 'forbidden' });
    });

    it('a 400 is not retried: a HeraldError with the status, the message naming the field and the request id', async () => {
      const error = await sut
        .notify({ users: [aUserId()], type: '', payload: null })
        .catch((thrown: unknown) => thrown);

      expect(error).toBeInstanceOf(HeraldError);
      expect(error).toMatchObject({ kind: 'http', status: 400, error: 'Bad Request', retries: 0 });
      expect((error as HeraldError).message).toMatch(/type/);
      expect((error as HeraldError).requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(proxy.requests).toHaveLength(1);
    });
  });

  describe('through faults', () => {
    it('a burst of three 503s: retried under the same key, delivered once, three retries reported', async () => {
      const { userId, client } = await aConnectedUser();
      proxy.inject({ respond: 503 }, 3, '/v1/notifications');

      const result = await sut.notify({ users: [userId], type: 'after-503s', payload: {} });

      expect(result.retries).toBe(3);
      expect(retries.map((event) => event.status)).toEqual([503, 503, 503]);
      expect(proxy.requests.map((request) => request.outcome)).toEqual([503, 503, 503, 202]);
      expect(new Set(proxy.requests.map((request) => request.idempotencyKey))).toEqual(
        new Set([result.idempotencyKey]),
      );
      await settle(userId, client);
      expect(receivedOf(client, 'after-503s').map((notification) => notification.id)).toEqual([result.id]);
    });

    it('a connection reset after Herald handled the request: the retry is replayed, not delivered again', async () => {
      const { userId, client } = await aConnectedUser();
      proxy.inject({ reset: true }, 1, '/v1/notifications');

      const result = await sut.notify({ users: [userId], type: 'after-reset', payload: {} });

      expect(result.retries).toBe(1);
      expect(retries).toEqual([expect.objectContaining({ status: 0, retry: 1 })]);
      expect(proxy.requests.map((request) => [request.outcome, request.forwarded, request.replayed])).toEqual(
        [
          ['reset', true, false],
          [202, true, true],
        ],
      );
      await settle(userId, client);
      expect(receivedOf(client, 'after-reset').map((notification) => notification.id)).toEqual([result.id]);
    });

    it('a 429 with Retry-After: 1 is retried after at least a second, delivered once', async () => {
      const { userId, client } = await aConnectedUser();
      proxy.inject({ respond: 429, retryAfter: 1 }, 1, '/v1/notifications');
      const started = Date.now();

      const result = await sut.notify({ users: [userId], type: 'after-429', payload: {} });

      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(result.retries).toBe(1);
      expect(retries).toEqual([
        expect.objectContaining({ status: 429, delayMs: expect.any(Number) as number }),
      ]);
      expect(retries[0].delayMs).toBeGreaterThanOrEqual(1000);
      await settle(userId, client);
      expect(receivedOf(client, 'after-429').map((notification) => notification.id)).toEqual([result.id]);
    });

    it('notifyMany through a reset of its first batch and 503s on the next: every item delivered once', async () => {
      const { userId, client } = await aConnectedUser();
      proxy.inject({ reset: true }, 1, '/v1/notifications/batch');
      proxy.inject({ respond: 503 }, 2, '/v1/notifications/batch');
      const bodies = Array.from({ length: 1500 }, (_, n) => ({
        users: [userId],
        type: 'bulk-faults',
        payload: { n },
      }));

      const result = await sut.notifyMany(bodies);

      expect(result.results.filter((item) => 'error' in item)).toEqual([]);
      expect(result.retries).toBe(3);
      const outcomes = proxy.requests.map((request) => request.outcome);
      expect(outcomes.filter((outcome) => outcome === 'reset')).toHaveLength(1);
      expect(outcomes.filter((outcome) => outcome === 503)).toHaveLength(2);
      expect(outcomes.filter((outcome) => outcome === 202)).toHaveLength(2);
      await settle(userId, client);
      const received = receivedOf(client, 'bulk-faults');
      expect(received).toHaveLength(1500);
      expect(new Set(received.map((notification) => notification.id)).size).toBe(1500);
    });

    it('503s past the deadline: a deadline HeraldError with the last status; nothing delivered', async () => {
      const { userId, client } = await aConnectedUser();
      proxy.inject({ respond: 503 }, 1000, '/v1/notifications');

      const error = await sut
        .notify({ users: [userId], type: 'never', payload: {} }, { deadlineMs: 500 })
        .catch((thrown: unknown) => thrown);

      expect(error).toBeInstanceOf(HeraldError);
      expect(error).toMatchObject({ kind: 'deadline', status: 503 });
      expect((error as HeraldError).retries).toBe(proxy.requests.length - 1);
      expect(proxy.requests.every((request) => !request.forwarded)).toBe(true);
      await settle(userId, client);
      expect(receivedOf(client, 'never')).toEqual([]);
    });
  });
});
