import { startApp, TestApp } from '../support/app';
import {
  aNotification,
  aToken,
  aUserId,
  connect,
  post,
  publish,
  refusedUpgrade,
  TestClient,
} from '../support/client';
import { getJson } from '../support/http';
import { TestRedis } from '../support/redis';
import { startCluster, TestCluster } from '../support/cluster';
import { waitUntil } from '../support/wait';
import { TEST_API_KEY } from '../support/app';

const auth = { authorization: `Bearer ${TEST_API_KEY}` };

/** Presence, history, batch and the connection limits, on two replicas sharing one Redis. */
describe('operations API', () => {
  let cluster: TestCluster;
  let redis: TestRedis;
  let a: TestApp;
  let b: TestApp;
  const clients: TestClient[] = [];
  const track = (client: TestClient) => (clients.push(client), client);

  beforeAll(async () => {
    cluster = await startCluster(2, { HEARTBEAT_INTERVAL_MS: '300', MAX_CONNECTIONS_PER_USER: '3' });
    ({ redis } = cluster);
    [a, b] = cluster.replicas;
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  describe('presence', () => {
    it('counts a user across replicas without asking them, and after a disconnect', async () => {
      const user = aUserId('present');
      const url = (app: TestApp) => `${app.url}/v1/presence/${encodeURIComponent(user)}`;
      expect((await getJson(url(a), auth)).body).toEqual({ userId: user, online: false, connections: 0 });
      const first = track(await connect(a, aToken({ sub: user })));
      track(await connect(b, aToken({ sub: user })));
      expect((await getJson(url(b), auth)).body).toEqual({ userId: user, online: true, connections: 2 });
      await first.close();
      await waitUntil(
        async () => (await getJson(url(a), auth)).body.connections === 1,
        3000,
        'one connection left',
      );
      expect((await getJson(url(a))).status).toBe(401);
    });

    it('stops counting the connections of a SIGKILLed replica within two heartbeat intervals', async () => {
      const user = aUserId('ghost');
      const doomed = await startApp({ REDIS_URL: redis.url, HEARTBEAT_INTERVAL_MS: '300' });
      track(await connect(doomed, aToken({ sub: user })));
      track(await connect(a, aToken({ sub: user })));
      const url = `${a.url}/v1/presence/${encodeURIComponent(user)}`;
      expect((await getJson(url, auth)).body.connections).toBe(2);
      await doomed.kill();
      const killedAt = Date.now();
      await waitUntil(
        async () => (await getJson(url, auth)).body.connections === 1,
        3000,
        'the ghost to expire',
      );
      expect(Date.now() - killedAt).toBeLessThanOrEqual(2 * 300 + 400);
    });
  });

  describe('per-user connection cap', () => {
    it('refuses the connection over MAX_CONNECTIONS_PER_USER with 429 before the upgrade, cluster-wide', async () => {
      const user = aUserId('capped');
      const token = aToken({ sub: user });
      track(await connect(a, token));
      track(await connect(b, token));
      track(await connect(a, token));
      const refusal = await refusedUpgrade(`${b.wsUrl}?access_token=${token}`);
      expect(refusal.status).toBe(429);
      expect(refusal.body).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
      await clients[0].close();
      await waitUntil(
        async () =>
          (await getJson(`${a.url}/v1/presence/${encodeURIComponent(user)}`, auth)).body.connections === 2,
        3000,
        'a free place',
      );
      track(await connect(b, token));
    });
  });

  describe('history', () => {
    it('pages through a channel after an offset', async () => {
      const user = aUserId('history');
      for (let n = 1; n <= 25; n++) await publish(a, aNotification([user], { n }));
      const channel = encodeURIComponent(`user:${user}`);
      const first = await getJson(`${b.url}/v1/channels/${channel}/history?after=0&limit=10`, auth);
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ channel: `user:${user}`, offset: 25 });
      const notifications = first.body.notifications as {
        offset: number;
        payload: { n: number };
        epoch: string;
      }[];
      expect(notifications.map((n) => n.offset)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(notifications[0]).toMatchObject({
        channel: `user:${user}`,
        type: 'test.event',
        payload: { n: 1 },
        epoch: first.body.epoch,
      });
      const last = await getJson(`${b.url}/v1/channels/${channel}/history?after=20&limit=10`, auth);
      expect((last.body.notifications as { offset: number }[]).map((n) => n.offset)).toEqual([
        21, 22, 23, 24, 25,
      ]);
      const defaults = await getJson(`${b.url}/v1/channels/${channel}/history`, auth);
      expect(defaults.body.notifications).toHaveLength(25);
    });

    it.each([
      ['room:1/history', 'channel must be'],
      ['broadcast/history?limit=0', 'limit must be 1-1000'],
      ['broadcast/history?limit=1001', 'limit must be 1-1000'],
      ['broadcast/history?after=-1', 'after must be a non-negative integer'],
    ])('answers 400 for %s', async (path, message) => {
      const response = await getJson(`${a.url}/v1/channels/${path}`, auth);
      expect(response.status).toBe(400);
      expect(response.body.message).toContain(message);
    });
  });

  describe('batch', () => {
    it('publishes valid items, reports invalid ones, in order, and delivers each', async () => {
      const user = aUserId('batch');
      const client = track(await connect(b, aToken({ sub: user })));
      const response = await post(a, '/v1/notifications/batch', {
        notifications: [
          aNotification([user], { n: 1 }),
          { users: [user], type: '', payload: 1 },
          { ...aNotification([user], { n: 2 }), idempotencyKey: `batch-${user}` },
          { type: 't', payload: 1 },
          aNotification([user], { n: 3 }),
        ],
      });
      expect(response.status).toBe(202);
      const results = response.body.results as (
        { id: string; deliveries: { offset: number }[] } | { error: { statusCode: number; message: string } }
      )[];
      expect(results).toHaveLength(5);
      expect(results.map((r) => ('error' in r ? r.error.statusCode : 202))).toEqual([
        202, 400, 202, 400, 202,
      ]);
      expect('error' in results[1] && results[1].error.message).toContain('type');
      expect('error' in results[3] && results[3].error.message).toContain('no target');
      const received = await client.waitForNotifications(3);
      expect(received.map((n) => n.offset)).toEqual([1, 2, 3]);
      expect(
        received.map((n) => n.payload).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
      ).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);

      const retry = await post(b, '/v1/notifications/batch', {
        notifications: [{ ...aNotification([user], { n: 2 }), idempotencyKey: `batch-${user}` }],
      });
      expect(retry.body.results).toEqual([results[2]]);
    });

    it('takes 1,000 items in one request', async () => {
      const users = Array.from({ length: 10 }, () => aUserId('bulk'));
      const notifications = Array.from({ length: 1000 }, (_, n) => aNotification([users[n % 10]], { n }));
      const response = await post(a, '/v1/notifications/batch', { notifications });
      expect(response.status).toBe(202);
      const results = response.body.results as Record<string, unknown>[];
      expect(results).toHaveLength(1000);
      expect(results.filter((result) => 'error' in result)).toEqual([]);
    });

    it('refuses an item over MAX_PAYLOAD_BYTES with a 413 result and publishes the others', async () => {
      const user = aUserId('sized');
      const response = await post(a, '/v1/notifications/batch', {
        notifications: [aNotification([user], 'x'.repeat(70_000)), aNotification([user], { n: 1 })],
      });
      expect(response.status).toBe(202);
      const [big, small] = response.body.results as Record<string, { statusCode?: number }>[];
      expect(big.error).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
      expect(small).toHaveProperty('id');
    });

    it('refuses an empty batch or one over 1,000 items with 400', async () => {
      expect((await post(a, '/v1/notifications/batch', { notifications: [] })).status).toBe(400);
      const tooMany = Array.from({ length: 1001 }, () => aNotification(['x']));
      expect((await post(a, '/v1/notifications/batch', { notifications: tooMany })).body.message).toContain(
        '1000',
      );
    });
  });
});
