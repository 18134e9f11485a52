import { PushLedger } from '../../src/push/push-ledger';
import { MAX_SUBSCRIPTIONS_PER_USER } from '../../src/push/push-subscription.store';
import { OTHER_API_KEY } from '../support/app';
import { aToken, aUserId, connect, post, publish, TestClient } from '../support/client';
import { FakePushService } from '../support/fake-push-service';
import { getJson } from '../support/http';
import { InProcessApp, startInProcessApp } from '../support/in-process';
import {
  aVapidEnv,
  deleteSubscription,
  deliveryStatus,
  postAck,
  pushEnv,
  registerSubscription,
  waitForState,
} from '../support/push';
import { startRedis, TestRedis } from '../support/redis';
import { SseTestClient } from '../support/sse';
import { waitUntil } from '../support/wait';

/**
 * Offline delivery through the running app: real HTTP, WebSocket and SSE clients, the fake push
 * service (VAPID verified, every message decrypted), on the memory engine and on a real Redis. What
 * must NOT be pushed is asserted after its due time plus a margin, once its due push is gone from the
 * engine's queue — so such a test fails if the push was merely late.
 */
describe.each([
  ['memory', false],
  ['redis', true],
])('offline delivery (%s engine)', (_engine, withRedis) => {
  const vapid = aVapidEnv();
  let redis: TestRedis | undefined;
  let app: InProcessApp;
  let pushService: FakePushService;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    redis = withRedis ? await startRedis() : undefined;
    pushService = await FakePushService.start(vapid.VAPID_PUBLIC_KEY);
    app = await startInProcessApp({ redis, env: pushEnv(vapid) });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await app?.close();
    await pushService?.close();
    await redis?.stop();
  });

  /** A user with one registered subscription of the fake push service. */
  const aSubscribedUser = async () => {
    const userId = aUserId('push');
    const token = aToken({ sub: userId });
    const subscription = pushService.subscribe();
    const registered = await registerSubscription(app, token, subscription);
    expect(registered.status).toBe(201);
    return { userId, token, subscription, subscriptionId: registered.body.id as string };
  };
  const online = async (token: string) => {
    const client = await connect(app, token);
    clients.push(client);
    return client;
  };
  /** `at`: just before the request, so no due time computed by the server precedes it. */
  const publishPush = async (users: string[], fields: Record<string, unknown> = {}) => {
    const at = Date.now();
    const response = await publish(app, {
      users,
      type: 'order.shipped',
      payload: { orderId: 42 },
      push: { title: 'Shipped', body: 'On its way', url: 'https://shop.example/o/42' },
      ...fields,
    });
    expect(response.status).toBe(202);
    return { id: response.body.id as string, at };
  };
  const queued = (id: string, userId: string) => app.app.get(PushLedger).isQueued(id, userId);
  /** The due time plus a margin of several polls has passed and the push left the queue. */
  const pastDueAndDequeued = (id: string, userId: string, dueAt: number) =>
    waitUntil(
      async () => Date.now() > dueAt + 300 && !(await queued(id, userId)),
      10_000,
      `the push of ${id} to be past due and off the queue`,
    );

  it('pushes a user with no live connection at once: the decrypted message, TTL and Urgency', async () => {
    const { userId, subscription, subscriptionId } = await aSubscribedUser();
    const { id, at } = await publishPush([userId]);
    const [request] = await pushService.waitForRequests(subscription, 1);
    expect(request.at - at).toBeLessThan(2000);
    expect(JSON.parse(request.message as string)).toEqual({
      id,
      type: 'order.shipped',
      title: 'Shipped',
      body: 'On its way',
      url: 'https://shop.example/o/42',
      icon: null,
      createdAt: expect.any(String) as unknown,
      payload: { orderId: 42 },
    });
    expect(request.headers).toMatchObject({ ttl: '86400', urgency: 'normal' });
    expect(request.headers.topic).toBeUndefined();
    const status = await waitForState(app, id, userId, 'pushed');
    expect(Date.parse(status.pushedAt as string)).toBeGreaterThanOrEqual(at - 1000);
    const list = await getJson(`${app.url}/v1/users/${userId}/push-subscriptions`, {
      authorization: 'Bearer test-api-key-secret',
    });
    expect(list.body).toEqual({
      userId,
      subscriptions: [
        {
          id: subscriptionId,
          origin: pushService.origin,
          createdAt: expect.any(String) as unknown,
          lastPushedAt: expect.any(String) as unknown,
        },
      ],
    });
  });

  it('does not push an online user who acks within afterMs; the ack marks it delivered', async () => {
    const { userId, token, subscription } = await aSubscribedUser();
    const client = await online(token);
    const { id, at } = await publishPush([userId], { push: { title: 'T', afterMs: 500 } });
    const [notification] = await client.waitForNotifications(1);
    expect(notification.id).toBe(id);
    client.send('ack', { ids: [id] });
    const status = await waitForState(app, id, userId, 'delivered');
    expect(status.pushedAt).toBeUndefined();
    await pastDueAndDequeued(id, userId, at + 500);
    expect(pushService.requestsFor(subscription)).toEqual([]);
  });

  it('pushes an online user who does not ack once afterMs has passed', async () => {
    const { userId, token, subscription } = await aSubscribedUser();
    const client = await online(token);
    const { id, at } = await publishPush([userId], { push: { title: 'T', afterMs: 400 } });
    await client.waitForNotifications(1);
    const [request] = await pushService.waitForRequests(subscription, 1);
    expect(request.at - at).toBeGreaterThanOrEqual(400);
    await waitForState(app, id, userId, 'pushed');
    // An ack after the push still wins.
    client.send('ack', { ids: [id] });
    const status = await waitForState(app, id, userId, 'delivered');
    expect(status.pushedAt).toEqual(expect.any(String));
  });

  it('never pushes a notification published without push', async () => {
    const { userId, subscription } = await aSubscribedUser();
    const plain = await publish(app, { users: [userId], type: 'plain', payload: 1 });
    expect(plain.status).toBe(202);
    // A push published after it, due at once too, arrives: the plain one would have come first.
    const { id } = await publishPush([userId]);
    await pushService.waitForRequests(subscription, 1);
    await waitForState(app, id, userId, 'pushed');
    expect(pushService.delivered(subscription).map((message) => message.id)).toEqual([id]);
    expect((await deliveryStatus(app, plain.body.id as string)).status).toBe(404);
  });

  it('pushes every subscription of the user, with Topic, Urgency and a TTL of the time left', async () => {
    const { userId, token, subscription } = await aSubscribedUser();
    const second = pushService.subscribe();
    expect((await registerSubscription(app, token, second)).status).toBe(201);
    const expiresAt = new Date(Date.now() + 60_000).toISOString();
    const { id } = await publishPush([userId], {
      push: { title: 'T', urgency: 'high' },
      collapseKey: 'order-42',
      expiresAt,
    });
    const [first] = await pushService.waitForRequests(subscription, 1);
    await pushService.waitForRequests(second, 1);
    expect(first.headers).toMatchObject({ urgency: 'high', topic: 'order-42' });
    expect(Number(first.headers.ttl)).toBeGreaterThanOrEqual(55);
    expect(Number(first.headers.ttl)).toBeLessThanOrEqual(60);
    const history = await getJson(`${app.url}/v1/channels/user:${encodeURIComponent(userId)}/history`, {
      authorization: 'Bearer test-api-key-secret',
    });
    expect(history.body.notifications).toEqual([expect.objectContaining({ id, expiresAt })]);
    await waitForState(app, id, userId, 'pushed');
  });

  it('does not push after expiresAt: the record says expired', async () => {
    const { userId, token, subscription } = await aSubscribedUser();
    await online(token);
    const expiresAt = Date.now() + 1000;
    const { id } = await publishPush([userId], {
      push: { title: 'T', afterMs: 1500 },
      expiresAt: new Date(expiresAt).toISOString(),
    });
    await waitForState(app, id, userId, 'expired');
    await pastDueAndDequeued(id, userId, expiresAt + 500);
    expect(pushService.requestsFor(subscription)).toEqual([]);
  });

  it('deletes a subscription the push service answers 410 for; the list shows it gone', async () => {
    const { userId, subscription } = await aSubscribedUser();
    pushService.answer(subscription, { status: 410 });
    const { id } = await publishPush([userId]);
    await pushService.waitForRequests(subscription, 1);
    await waitForState(app, id, userId, 'push_failed');
    const list = await getJson(`${app.url}/v1/users/${userId}/push-subscriptions`, {
      authorization: 'Bearer test-api-key-secret',
    });
    expect(list.body.subscriptions).toEqual([]);
  });

  it('retries a 429 no sooner than its Retry-After, then pushes', async () => {
    const { userId, subscription } = await aSubscribedUser();
    pushService.answer(subscription, { status: 429, retryAfter: '1' });
    const { id } = await publishPush([userId]);
    const [refused, accepted] = await pushService.waitForRequests(subscription, 2, 10_000);
    expect(refused.status).toBe(429);
    expect(accepted.status).toBe(201);
    expect(accepted.at - refused.at).toBeGreaterThanOrEqual(1000);
    await waitForState(app, id, userId, 'pushed');
  });

  it('records no_subscriptions for a target without any, and pending for an online one', async () => {
    const lonely = aUserId('lonely');
    const { userId, token } = await aSubscribedUser();
    await online(token);
    const { id } = await publishPush([lonely, userId], { push: { title: 'T', afterMs: 60_000 } });
    await waitForState(app, id, lonely, 'no_subscriptions');
    const { body } = await deliveryStatus(app, id);
    expect(body).toEqual({
      id,
      users: expect.arrayContaining([
        { userId: lonely, state: 'no_subscriptions' },
        { userId, state: 'pending' },
      ]) as unknown,
    });
    expect(body.users).toHaveLength(2);
    expect((await deliveryStatus(app, '0b0e7f8c-6c59-4a43-9d5e-2f1b5a7c9e11')).status).toBe(404);
    expect((await deliveryStatus(app, 'not-an-id')).status).toBe(404);
  });

  it('takes an SSE client’s ack through POST /v1/acks', async () => {
    const { userId, token, subscription } = await aSubscribedUser();
    const sse = new SseTestClient(token, { origin: () => app.url });
    try {
      await sse.waitFor('ready');
      const { id, at } = await publishPush([userId], { push: { title: 'T', afterMs: 500 } });
      await sse.waitForNotifications(1);
      expect((await postAck(app, token, { ids: [id] })).status).toBe(204);
      await waitForState(app, id, userId, 'delivered');
      await pastDueAndDequeued(id, userId, at + 500);
      expect(pushService.requestsFor(subscription)).toEqual([]);
    } finally {
      sse.close();
    }
  });

  it('refuses a bad ack with 400 or 401', async () => {
    const token = aToken();
    const bad = await postAck(app, token, { ids: ['nope'] });
    expect(bad).toMatchObject({
      status: 400,
      body: { statusCode: 400, message: 'each of ids must be a notification id (a UUID)' },
    });
    expect((await postAck(app, token, { ids: [] })).status).toBe(400);
    expect((await postAck(app, token, { ids: ['0b0e7f8c-6c59-4a43-9d5e-2f1b5a7c9e11'], x: 1 })).status).toBe(
      400,
    );
    expect(
      (await postAck(app, 'not-a-token', { ids: ['0b0e7f8c-6c59-4a43-9d5e-2f1b5a7c9e11'] })).status,
    ).toBe(401);
    const noToken = await post(
      app,
      '/v1/acks',
      { ids: ['0b0e7f8c-6c59-4a43-9d5e-2f1b5a7c9e11'] },
      { apiKey: null },
    );
    expect(noToken.status).toBe(401);
  });

  it('answers a bad ack frame with an error frame and keeps the connection', async () => {
    const client = await online(aToken());
    client.send('ack', { ids: 'x' });
    await expect(client.nextFrame('error')).resolves.toMatchObject({
      data: { code: 'bad_request', message: 'ack: ids must be an array of 1-100 notification ids' },
    });
    client.send('ping', {});
    await client.nextFrame('pong');
    expect(client.closeEvent).toBeUndefined();
  });

  it('refuses push without users, also as a batch item, and pushes the valid items', async () => {
    const single = await publish(app, { topics: ['t'], type: 't', payload: 1, push: { title: 'T' } });
    expect(single).toMatchObject({
      status: 400,
      body: { message: 'push needs users: only users targets are pushed' },
    });
    const { userId, subscription } = await aSubscribedUser();
    const batch = await post(app, '/v1/notifications/batch', {
      notifications: [
        { topics: ['t'], type: 't', payload: 1, push: { title: 'T' } },
        { users: [userId], type: 't', payload: 1, push: { title: 'Batch' } },
      ],
    });
    const results = (batch.body as { results: Record<string, unknown>[] }).results;
    expect(results[0]).toMatchObject({ error: { statusCode: 400 } });
    await pushService.waitForRequests(subscription, 1);
    expect(pushService.delivered(subscription)).toEqual([
      expect.objectContaining({ id: results[1].id, title: 'Batch' }),
    ]);
  });

  it('pushes once for a publish retried with the same Idempotency-Key', async () => {
    const { userId, subscription } = await aSubscribedUser();
    const body = { users: [userId], type: 't', payload: 1, push: { title: 'Once' } };
    const first = await publish(app, body, { headers: { 'Idempotency-Key': `k-${userId}` } });
    const again = await publish(app, body, { headers: { 'Idempotency-Key': `k-${userId}` } });
    expect(again.body.id).toBe(first.body.id);
    await waitForState(app, first.body.id as string, userId, 'pushed');
    await pastDueAndDequeued(first.body.id as string, userId, Date.now());
    expect(pushService.requestsFor(subscription)).toHaveLength(1);
  });

  describe('subscriptions', () => {
    it('serves the VAPID public key', async () => {
      const response = await getJson(`${app.url}/v1/push/vapid-public-key`);
      expect(response).toMatchObject({ status: 200, body: { publicKey: vapid.VAPID_PUBLIC_KEY } });
    });

    it('answers 201, then 200 with the same id for the same endpoint; deletes with 204, then 404', async () => {
      const token = aToken();
      const subscription = pushService.subscribe();
      const created = await registerSubscription(app, token, subscription);
      const again = await registerSubscription(app, token, subscription);
      expect(created.status).toBe(201);
      expect(again).toMatchObject({ status: 200, body: { id: created.body.id } });
      expect(await deleteSubscription(app, aToken(), created.body.id as string)).toBe(404);
      expect(await deleteSubscription(app, token, created.body.id as string)).toBe(204);
      expect(await deleteSubscription(app, token, created.body.id as string)).toBe(404);
      expect(await deleteSubscription(app, 'bad-token', created.body.id as string)).toBe(401);
    });

    it.each([
      [{ keys: { p256dh: 'x', auth: 'y' } }, 'endpoint must be a URL'],
      [{ endpoint: 'not a url', keys: {} }, 'endpoint must be a URL'],
      [
        { endpoint: 'https://push.example/1', keys: { p256dh: 'AAAA', auth: 'AAAAAAAAAAAAAAAAAAAAAA' } },
        'keys.p256dh',
      ],
      [{ endpoint: 'https://push.example/1' }, 'keys must be an object'],
    ])('refuses the malformed body %j with 400 naming the field', async (body, message) => {
      const response = await registerSubscription(app, aToken(), body);
      expect(response.status).toBe(400);
      expect(response.body.message).toContain(message);
    });

    it('refuses a bad auth secret and an unknown field with 400, a missing token with 401', async () => {
      const subscription = pushService.subscribe();
      const badAuth = { endpoint: subscription.endpoint, keys: { ...subscription.keys, auth: 'AAAA' } };
      expect((await registerSubscription(app, aToken(), badAuth)).body.message).toContain('keys.auth');
      const extra = { endpoint: subscription.endpoint, keys: subscription.keys, extra: 1 };
      expect((await registerSubscription(app, aToken(), extra)).status).toBe(400);
      const anonymous = await post(
        app,
        '/v1/push/subscriptions',
        { endpoint: subscription.endpoint, keys: subscription.keys },
        { apiKey: null },
      );
      expect(anonymous.status).toBe(401);
    });

    it('moves an endpoint registered by another user to the new one', async () => {
      const [alice, bob] = [aUserId('alice'), aUserId('bob')];
      const subscription = pushService.subscribe();
      const first = await registerSubscription(app, aToken({ sub: alice }), subscription);
      const moved = await registerSubscription(app, aToken({ sub: bob }), subscription);
      expect(moved).toMatchObject({ status: 201, body: { id: first.body.id } });
      const list = (user: string) =>
        getJson(`${app.url}/v1/users/${user}/push-subscriptions`, {
          authorization: 'Bearer test-api-key-secret',
        });
      expect((await list(alice)).body.subscriptions).toEqual([]);
      expect((await list(bob)).body.subscriptions).toEqual([expect.objectContaining({ id: first.body.id })]);
      const { id } = await publishPush([alice]);
      await waitForState(app, id, alice, 'no_subscriptions');
    });

    it(`keeps ${MAX_SUBSCRIPTIONS_PER_USER} per user, the next replacing the one pushed least recently`, async () => {
      const userId = aUserId('many');
      const token = aToken({ sub: userId });
      const ids: string[] = [];
      for (let i = 0; i < MAX_SUBSCRIPTIONS_PER_USER; i++)
        ids.push((await registerSubscription(app, token, pushService.subscribe())).body.id as string);
      const extra = await registerSubscription(app, token, pushService.subscribe());
      expect(extra.status).toBe(201);
      const list = await getJson(`${app.url}/v1/users/${userId}/push-subscriptions`, {
        authorization: 'Bearer test-api-key-secret',
      });
      const listed = (list.body.subscriptions as { id: string }[]).map((entry) => entry.id);
      expect(listed).toHaveLength(MAX_SUBSCRIPTIONS_PER_USER);
      expect(listed).toContain(extra.body.id);
      expect(listed).not.toContain(ids[0]);
    });

    it('lists only with an API key, and no endpoint or keys', async () => {
      const { userId, subscription } = await aSubscribedUser();
      const path = `${app.url}/v1/users/${userId}/push-subscriptions`;
      expect((await getJson(path)).status).toBe(401);
      const listed = await getJson(path, { authorization: `Bearer ${OTHER_API_KEY}` });
      expect(listed.status).toBe(200);
      const text = JSON.stringify(listed.body);
      expect(text).not.toContain(subscription.endpoint);
      expect(text).not.toContain(subscription.keys.p256dh);
      expect(text).not.toContain(subscription.keys.auth);
    });
  });
});

describe('offline delivery with Web Push off', () => {
  let app: InProcessApp;

  beforeAll(async () => {
    app = await startInProcessApp();
  });
  afterAll(() => app?.close());

  it('answers 404 on the push endpoints', async () => {
    expect((await getJson(`${app.url}/v1/push/vapid-public-key`)).status).toBe(404);
    const response = await registerSubscription(app, aToken(), {
      endpoint: 'https://push.example/1',
      keys: { p256dh: 'x', auth: 'y' },
    });
    expect(response).toMatchObject({ status: 404, body: { statusCode: 404, error: 'Not Found' } });
    expect(response.body.message).toContain('Web Push is off');
    expect(await deleteSubscription(app, aToken(), 'any')).toBe(404);
    const list = await getJson(`${app.url}/v1/users/u/push-subscriptions`, {
      authorization: 'Bearer test-api-key-secret',
    });
    expect(list.status).toBe(404);
  });

  it('accepts a publish with push and records no_subscriptions', async () => {
    const userId = aUserId();
    const response = await publish(app, { users: [userId], type: 't', payload: 1, push: { title: 'T' } });
    expect(response.status).toBe(202);
    await expect(deliveryStatus(app, response.body.id as string)).resolves.toMatchObject({
      status: 200,
      body: { users: [{ userId, state: 'no_subscriptions' }] },
    });
  });
});

describe('push endpoints without PUSH_ALLOW_PRIVATE_ENDPOINTS', () => {
  let app: InProcessApp;
  let pushService: FakePushService;

  beforeAll(async () => {
    const vapid = aVapidEnv();
    pushService = await FakePushService.start(vapid.VAPID_PUBLIC_KEY);
    app = await startInProcessApp({ env: vapid });
  });
  afterAll(async () => {
    await app?.close();
    await pushService?.close();
  });

  it.each([
    ['an http endpoint', (endpoint: string) => endpoint, 'https://'],
    [
      'a loopback https endpoint',
      (endpoint: string) => endpoint.replace('http:', 'https:'),
      'loopback or private',
    ],
    ['a private address', () => 'https://10.0.0.8/push/1', 'loopback or private'],
  ])('refuses %s with 422', async (_label, endpointOf, message) => {
    const subscription = pushService.subscribe();
    const response = await registerSubscription(app, aToken(), {
      endpoint: endpointOf(subscription.endpoint),
      keys: subscription.keys,
    });
    expect(response).toMatchObject({ status: 422, body: { statusCode: 422, error: 'Unprocessable Entity' } });
    expect(response.body.message).toContain(message);
  });

  it('takes a public https endpoint', async () => {
    const subscription = pushService.subscribe();
    const response = await registerSubscription(app, aToken(), {
      endpoint: 'https://updates.push.example/wpush/v2/abc',
      keys: subscription.keys,
    });
    expect(response.status).toBe(201);
  });
});
