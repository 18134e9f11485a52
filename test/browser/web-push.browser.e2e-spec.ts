import type { Browser } from 'puppeteer-core';
import webpush from 'web-push';
import type { PushMessage } from '../../src/protocol/wire';
import { generatedCredentials, startApp, type TestApp } from '../support/app';
import { aToken, aUserId, connect, post } from '../support/client';
import { type FakeAutopush, startFakeAutopush } from '../support/fake-autopush';
import { FakePushService } from '../support/fake-push-service';
import { registerSubscription } from '../support/push';
import { getJson, httpRequest } from '../support/http';
import { waitUntil } from '../support/wait';
import { FIREFOX_PATH, firefoxPushPrefs, hasFirefox, launchFirefox } from './support/firefox';
import { PushPage, type SubscriptionJson } from './support/push-page';

const firefoxAvailable = hasFirefox();
if (!firefoxAvailable) {
  console.warn(
    `${FIREFOX_PATH} not found: skipping the Web Push browser tests (apt-get install firefox-esr, as .ci/run does)`,
  );
}
const describeInFirefox = firefoxAvailable ? describe : describe.skip;

/** Firefox's start, a service worker's install and a push round trip fit well within this. */
const TEST_TIMEOUT_MS = 60_000;

const vapid = webpush.generateVAPIDKeys();
const VAPID_SUBJECT = 'mailto:ops@herald.test';

function aPushMessage(fields: Partial<PushMessage> = {}): PushMessage {
  return {
    id: `push-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
    type: 'order.shipped',
    title: 'Your order shipped',
    body: 'Order 42 is on its way',
    url: '/demo',
    icon: null,
    createdAt: new Date().toISOString(),
    payload: { orderId: 42 },
    ...fields,
  };
}

/** Polls the publisher API until `check` accepts the answer's body. */
async function waitForJson<T>(
  app: TestApp,
  path: string,
  check: (body: T) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const { apiKey } = generatedCredentials(app);
  return waitUntil(
    async () => {
      const response = await getJson(`${app.url}${path}`, { authorization: `Bearer ${apiKey}` });
      const body = response.body as T;
      return response.status === 200 && check(body) && body;
    },
    timeoutMs,
    what,
    100,
  );
}

type DeliveryStatus = { users: { userId: string; state: string }[] };
type SubscriptionList = { subscriptions: { id: string; origin: string }[] };
type Presence = { online: boolean };

/** A Web Push request as a push sender makes it (VAPID, aes128gcm), posted over plain HTTP to the fake. */
async function sendWebPush(subscription: SubscriptionJson, message: PushMessage): Promise<number> {
  const request = webpush.generateRequestDetails(subscription, JSON.stringify(message), {
    vapidDetails: { subject: VAPID_SUBJECT, publicKey: vapid.publicKey, privateKey: vapid.privateKey },
    TTL: 60,
  });
  const response = await httpRequest(request.method, request.endpoint, {
    headers: request.headers,
    body: request.body,
  });
  return response.status;
}

describeInFirefox('Web Push in Firefox ESR, through a fake autopush', () => {
  let autopush: FakeAutopush;
  let app: TestApp;
  let browser: Browser;
  const pages: PushPage[] = [];

  /** A tab on the demo page; closed after the test if the test did not close it. */
  async function openPage(): Promise<PushPage> {
    const page = await PushPage.open(browser, `${app.url}/demo`);
    pages.push(page);
    return page;
  }

  beforeAll(async () => {
    autopush = await startFakeAutopush();
    // The demo exists only when the replica generated its credentials itself.
    app = await startApp({
      NODE_ENV: 'development',
      JWT_SECRET: undefined,
      API_KEYS: undefined,
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      VAPID_SUBJECT,
      PUSH_ALLOW_PRIVATE_ENDPOINTS: 'true',
    });
    browser = await launchFirefox(firefoxPushPrefs(autopush.serverUrl));
  }, TEST_TIMEOUT_MS);
  /** The demo page connected as `user`, its browser registered for Web Push through the SDK. */
  async function registeredPage(user: string): Promise<{ page: PushPage; subscriptionId: string }> {
    const page = await openPage();
    await page.page.locator('[data-testid="user-id"]').fill(user);
    await page.page.locator('[data-testid="connect"]').click();
    await page.waitForState('state', 'connected');
    await page.waitForState('push-status', 'ready');
    await page.page.locator('[data-testid="push-register"]').click();
    await page.waitForState('push-status', 'registered');
    const subscriptionId = await page.page.$eval(
      '[data-testid="push-status"]',
      (element) => (element as unknown as { dataset: { subscriptionId: string } }).dataset.subscriptionId,
    );
    return { page, subscriptionId };
  }

  /** Publishes with the replica's generated API key. */
  async function publishWithPush(user: string, push: Record<string, unknown>) {
    const { apiKey } = generatedCredentials(app);
    const response = await post(
      app,
      '/v1/notifications',
      { users: [user], type: 'order.shipped', payload: { orderId: 42 }, push },
      { apiKey },
    );
    expect(response.status).toBe(202);
    return response.body as { id: string };
  }

  afterEach(async () => {
    const cleaner = await openPage();
    await cleaner.reset();
    for (const page of pages.splice(0)) if (!page.page.isClosed()) await page.close();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.kill();
    await autopush?.close();
  });

  it(
    'shows a push sent straight to the subscription, decrypted, with no tab open, once per id',
    async () => {
      const page = await openPage();
      await page.registerServiceWorker();
      const subscription = await page.subscribe(vapid.publicKey);
      expect(subscription.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/push\/[\w-]+$/);
      await page.close();

      const first = aPushMessage();
      expect(await sendWebPush(subscription, first)).toBe(201);
      const reader = await openPage();
      const [shown] = await reader.waitForNotification(first.id);
      expect(shown).toEqual({ title: first.title, body: first.body, tag: first.id, data: first });

      // Dismissed, then pushed again (at-least-once): the worker knows the id and shows nothing.
      await reader.closeNotification(first.id);
      expect(await reader.notifications()).toEqual([]);
      expect(await sendWebPush(subscription, first)).toBe(201);
      const second = aPushMessage({
        title: 'Another one',
        body: null,
        payload: undefined,
        payloadOmitted: true,
      });
      expect(await sendWebPush(subscription, second)).toBe(201);
      // Firefox acked all three: the duplicate reached the worker, which dropped it.
      await autopush.waitForAcks(3);
      const after = await reader.waitForNotification(second.id);
      expect(after).toEqual([{ title: 'Another one', body: '', tag: second.id, data: second }]);
      expect(autopush.pushes.map((push) => push.status)).toEqual([201, 201, 201]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'pushes a publish to a user whose tab is closed: registered through the SDK, shown by its service worker',
    async () => {
      const user = aUserId('web-push');
      const { page, subscriptionId } = await registeredPage(user);
      const listed = await waitForJson<SubscriptionList>(
        app,
        `/v1/users/${encodeURIComponent(user)}/push-subscriptions`,
        (body) => body.subscriptions.length === 1,
        'the subscription in the list',
      );
      expect(listed.subscriptions).toEqual([
        expect.objectContaining({
          id: subscriptionId,
          origin: autopush.endpointOrigin,
        }),
      ]);

      await page.close(); // the tab's socket closes with it
      await waitForJson<Presence>(
        app,
        `/v1/presence/${encodeURIComponent(user)}`,
        (body) => !body.online,
        'offline',
      );
      // From another tab, as the demo suggests: the publish form with "Web Push" ticked.
      const before = autopush.pushes.length;
      const reader = await openPage();
      const id = await reader.publishWithPush(
        user,
        'order.shipped',
        '{ "orderId": 42 }',
        'Your order shipped',
      );

      const [shown] = await reader.waitForNotification(id);
      expect(shown).toEqual({
        title: 'Your order shipped',
        body: '{"orderId":42}',
        tag: id,
        data: {
          id,
          type: 'order.shipped',
          title: 'Your order shipped',
          body: '{"orderId":42}',
          url: '/demo',
          icon: null,
          createdAt: expect.any(String) as unknown,
          payload: { orderId: 42 },
        },
      });
      expect(autopush.pushes.slice(before).map((push) => push.status)).toEqual([201]);
      await waitForJson<DeliveryStatus>(
        app,
        `/v1/notifications/${id}/status`,
        (body) => body.users[0]?.state === 'pushed',
        'the delivery status pushed',
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'does not push a user whose open tab got the notification: the SDK acked it in time',
    async () => {
      const user = aUserId('web-push-online');
      await registeredPage(user);
      const before = autopush.pushes.length;
      const afterMs = 1000;
      const published = await publishWithPush(user, { title: 'Seen live', afterMs });

      await waitForJson<DeliveryStatus>(
        app,
        `/v1/notifications/${published.id}/status`,
        (body) => body.users[0]?.state === 'delivered',
        'the delivery status delivered',
      );
      // A marker: another user, online on a socket that never acks, subscribed at a push service of
      // its own (the browser's one subscription stays this user's), whose push falls due 2.5 s after
      // this one's (two polls of the dispatcher, PUSH_POLL_INTERVAL_MS 1 s): once the marker is
      // pushed, a push of this one would have reached the browser's push service before it.
      const marker = aUserId('web-push-marker');
      const markerToken = aToken({ sub: marker, secret: generatedCredentials(app).jwtSecret });
      const markerService = await FakePushService.start(vapid.publicKey);
      const silent = await connect(app, markerToken);
      try {
        expect((await registerSubscription(app, markerToken, markerService.subscribe())).status).toBe(201);
        const markerPublish = await publishWithPush(marker, { title: 'Marker', afterMs: afterMs + 2500 });
        await waitForJson<DeliveryStatus>(
          app,
          `/v1/notifications/${markerPublish.id}/status`,
          (body) => body.users[0]?.state === 'pushed',
          'the marker pushed',
        );
      } finally {
        await silent.close();
        await markerService.close();
      }
      expect(autopush.pushes.slice(before)).toEqual([]);
      const status = await waitForJson<DeliveryStatus>(
        app,
        `/v1/notifications/${published.id}/status`,
        () => true,
        'the delivery status',
      );
      expect(status.users).toEqual([expect.objectContaining({ userId: user, state: 'delivered' })]);
    },
    TEST_TIMEOUT_MS,
  );
});
