import type { Browser } from 'puppeteer-core';
import webpush from 'web-push';
import type { PushMessage } from '../../src/protocol/wire';
import { startApp, type TestApp } from '../support/app';
import { type FakeAutopush, startFakeAutopush } from '../support/fake-autopush';
import { httpRequest } from '../support/http';
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
});
