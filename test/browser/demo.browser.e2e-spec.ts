import jwt from 'jsonwebtoken';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { generatedCredentials, startApp, TestApp } from '../support/app';
import { aNotification, aUserId, MARKER_TYPE, post, publish, publishMarker } from '../support/client';
import { httpRequest } from '../support/http';
import { startRedis, TestRedis } from '../support/redis';
import { sleep, waitUntil } from '../support/wait';
import {
  CHROMIUM_PATH,
  hasChromium,
  launchChromium,
  PageProblems,
  saveScreenshot,
  watchPage,
} from './support/chromium';
import { DemoPage } from './support/demo-page';

/**
 * Development mode with every credential generated (the demo exists only then), on Redis so that
 * history outlives a replica.
 */
const devEnv = (redis: TestRedis) => ({
  NODE_ENV: 'development',
  REDIS_URL: redis.url,
  JWT_SECRET: undefined,
  API_KEYS: undefined,
});

/** A replica restart and a browser's reconnect backoff fit well within this, even on a busy machine. */
const BROWSER_TEST_TIMEOUT_MS = 60_000;

const browserAvailable = hasChromium();
if (!browserAvailable) {
  console.warn(
    `${CHROMIUM_PATH} not found: skipping the demo page's browser tests (apt-get install chromium, as .ci/run does)`,
  );
}
const describeInBrowser = browserAvailable ? describe : describe.skip;

describe('demo page (development)', () => {
  let redis: TestRedis;
  /** The replica the page is served by and connected to; restarted on the same port by one test. */
  let a: TestApp;
  /**
   * A second replica on the same Redis, with the test's API key: the publisher of the REST publishes
   * (A's key is generated), also while A is down.
   */
  let b: TestApp;

  beforeAll(async () => {
    redis = await startRedis();
    [a, b] = await Promise.all([startApp(devEnv(redis)), startApp({ REDIS_URL: redis.url })]);
  });
  afterAll(async () => {
    await Promise.all([a?.kill(), b?.kill()]);
    await redis?.stop();
  });

  describe('routes', () => {
    it('redirects / to the page, and serves it with the SDK build it imports', async () => {
      const home = await httpRequest('GET', `${a.url}/`);
      expect(home.status).toBe(302);
      expect(home.headers.location).toBe('/demo');

      const page = await httpRequest('GET', `${a.url}/demo`);
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.headers['content-security-policy']).toContain("default-src 'self'");
      expect(page.text).toContain('<script type="module" src="/demo/demo.js"></script>');

      const sdk = await httpRequest('GET', `${a.url}/demo/herald-client.js`);
      expect(sdk.status).toBe(200);
      expect(sdk.headers['content-type']).toBe('text/javascript; charset=utf-8');
      expect(sdk.text).toContain('export class HeraldClient');
      // Served alone: the build must not import sibling modules the route does not serve.
      expect(sdk.text).not.toMatch(/^\s*import\s.*from\s/m);

      for (const asset of ['demo.js', 'demo.css']) {
        expect((await httpRequest('GET', `${a.url}/demo/${asset}`)).status).toBe(200);
      }
      expect((await httpRequest('GET', `${a.url}/demo/index.html`)).status).toBe(404);
    });

    it('keeps its routes out of the OpenAPI document', async () => {
      const response = await httpRequest('GET', `${a.url}/docs-json`);
      expect(response.status).toBe(200);
      const paths = Object.keys((JSON.parse(response.text) as { paths: Record<string, unknown> }).paths);
      expect(paths).toContain('/v1/notifications');
      expect(paths.filter((path) => path === '/' || path.startsWith('/demo'))).toEqual([]);
    });

    it('mints a one-hour client token for any user, allowed on every topic', async () => {
      const response = await httpRequest(
        'GET',
        `${a.url}/demo/token?user=${encodeURIComponent('bob smith')}`,
      );
      expect(response.status).toBe(200);
      const body = JSON.parse(response.text) as { token: string; userId: string; expiresAt: string };
      const claims = jwt.verify(body.token, generatedCredentials(a).jwtSecret, {
        algorithms: ['HS256'],
      }) as jwt.JwtPayload;
      expect(claims).toMatchObject({ sub: 'bob smith', topics: ['*'] });
      expect((claims.exp ?? 0) - Date.now() / 1000).toBeGreaterThan(3590);
      expect((claims.exp ?? 0) - Date.now() / 1000).toBeLessThanOrEqual(3600);
      expect(body).toEqual({
        token: body.token,
        userId: 'bob smith',
        expiresAt: expect.any(String) as unknown,
      });
    });

    it.each([
      ['no user', '', 'user must be a user id'],
      ['an empty user', '?user=', 'user must be a user id'],
      ['a control character', '?user=a%01b', 'user must be a user id'],
      ['a user id over 200 chars', `?user=${'x'.repeat(201)}`, 'user must be a user id'],
      ['an unknown parameter', '?user=bob&admin=1', 'admin'],
    ])('refuses a token request with %s (400)', async (_case, query, message) => {
      const response = await httpRequest('GET', `${a.url}/demo/token${query}`);
      expect(response.status).toBe(400);
      expect(JSON.parse(response.text)).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: expect.stringContaining(message) as unknown,
      });
    });

    it('publishes in-process, without an API key, with the answer of POST /v1/notifications', async () => {
      const user = aUserId('demo-route');
      const response = await post(a, '/demo/publish', aNotification([user], { via: 'demo' }), {
        apiKey: null,
      });
      expect(response.status).toBe(202);
      expect(response.body).toEqual({
        id: expect.any(String) as unknown,
        deliveries: [{ channel: `user:${user}`, offset: 1, epoch: expect.any(String) as unknown }],
      });
    });

    it.each([
      ['no target', { type: 't', payload: 1 }, 'no target'],
      ['an unknown field', { users: ['u'], type: 't', payload: 1, priority: 'high' }, 'priority'],
      ['no payload', { users: ['u'], type: 't' }, 'payload'],
      ['a bad topic name', { topics: ['no spaces'], type: 't', payload: 1 }, 'topics'],
    ])('refuses a demo publish with %s (400)', async (_case, body, message) => {
      const response = await post(a, '/demo/publish', body, { apiKey: null });
      expect(response.status).toBe(400);
      expect(response.body.message).toContain(message);
    });
  });

  describeInBrowser('in Chromium', () => {
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    let problems: PageProblems;
    let demo: DemoPage;
    const user = aUserId('demo');

    beforeAll(async () => {
      browser = await launchChromium();
      context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
      page = await context.newPage();
      problems = watchPage(page);
      demo = new DemoPage(page);
    });
    afterEach(() => {
      expect(problems.uncaught).toEqual([]);
    });
    afterAll(async () => {
      await context?.close();
      await browser?.close();
    });

    it(
      'loads, connects and shows a notification published over REST',
      async () => {
        await demo.open(a.url);
        expect(page.url()).toBe(`${a.url}/demo`);
        expect(await demo.state()).toBe('idle');

        await demo.connectAs(user);
        await demo.waitForState((state) => state === 'connected', 'connected');
        const response = await publish(b, aNotification([user], { text: 'hello' }, 'greeting'));
        expect(response.status).toBe(202);

        const [shown] = await demo.waitForFeed(1);
        expect(shown).toEqual({
          id: response.body.id,
          channel: `user:${user}`,
          offset: 1,
          epoch: response.body.deliveries?.[0].epoch,
          type: 'greeting',
          payload: { text: 'hello' },
        });
        expect(await demo.feedCount()).toBe(1);
        expect(await demo.channels()).toEqual(
          new Map([
            [`user:${user}`, 1],
            ['broadcast', expect.any(Number) as unknown],
          ]),
        );
        // Nothing failed to load, no CSP violation, no refused socket.
        expect(problems.consoleErrors).toEqual([]);
      },
      BROWSER_TEST_TIMEOUT_MS,
    );

    it(
      'recovers, in order, the notifications published while its replica restarted',
      async () => {
        const { port } = a;
        expect(await a.stop()).toBe(0); // graceful: the page's socket is closed with 1012
        await demo.waitForState((state) => state !== 'connected', 'anything but connected');

        // The page's only server is down: these five can reach it only through recovery.
        const missed = [];
        for (let n = 1; n <= 5; n++) {
          const response = await publish(b, aNotification([user], { n }, 'while.away'));
          expect(response.status).toBe(202);
          missed.push(response.body);
        }
        expect(await demo.state()).not.toBe('connected');
        expect(await demo.feedCount()).toBe(1);

        a = await startApp({ ...devEnv(redis), PORT: String(port) });
        await demo.waitForState((state) => state === 'connected', 'connected again', 20_000);
        const feed = await demo.waitForFeed(6);
        const recovered = feed.slice(0, 5).reverse(); // the feed shows the newest first
        expect(recovered.map((item) => item.id)).toEqual(missed.map((body) => body.id));
        expect(recovered.map((item) => item.offset)).toEqual([2, 3, 4, 5, 6]);
        expect(recovered.map((item) => item.payload)).toEqual([1, 2, 3, 4, 5].map((n) => ({ n })));
        expect(new Set(feed.map((item) => item.epoch)).size).toBe(1);

        const log = await demo.log();
        expect(log).toContainEqual(expect.stringMatching(/^disconnected: code 1012 .*reconnecting$/));
        expect(log).toContainEqual(expect.stringMatching(new RegExp(`^state: recovering .*user:${user}`)));
        expect(log.filter((line) => line.startsWith('unrecovered'))).toEqual([]);
        // None twice: a duplicate would be shown before this marker.
        const marker = await publishMarker(b, { users: [user] });
        const withMarker = await waitUntil(
          async () => {
            const shown = await demo.feed();
            return shown[0]?.type === MARKER_TYPE && shown;
          },
          10_000,
          'the marker at the top of the feed',
        );
        expect(withMarker[0].payload).toEqual({ marker });
        expect(withMarker.slice(1)).toEqual(feed);
        expect(await demo.feedCount()).toBe(7);
        await saveScreenshot(page, 'demo-recovered.png');
      },
      BROWSER_TEST_TIMEOUT_MS,
    );

    it(
      'subscribes to a topic and publishes to it from the form',
      async () => {
        const topic = `news.${Date.now().toString(36)}`;
        await demo.subscribe(topic);
        // The row shows offset 0 (an empty topic) once the server answered `subscribed`.
        await waitUntil(
          async () => (await demo.channels()).get(`topic:${topic}`) === 0,
          10_000,
          `topic:${topic} in the channel list`,
        );

        const toTopic = await demo.publish(
          { topic },
          'news.published',
          '{ "headline": "Herald ships a demo page", "tags": ["release", "demo"] }',
        );
        expect(toTopic).toBe(`Accepted → topic:${topic} #1`);
        expect(await demo.publishResultKind()).toBe('ok');
        // The feed so far: the greeting, the five recovered and the recovery test's marker.
        const [newest] = await demo.waitForFeed(8);
        expect(newest).toMatchObject({
          channel: `topic:${topic}`,
          offset: 1,
          type: 'news.published',
          payload: { headline: 'Herald ships a demo page', tags: ['release', 'demo'] },
        });

        const toUser = await demo.publish({ user }, 'order.shipped', '{ "orderId": 42, "carrier": "DHL" }');
        expect(toUser).toBe(`Accepted → user:${user} #8`);
        expect((await demo.waitForFeed(9))[0]).toMatchObject({ channel: `user:${user}`, offset: 8 });

        const toEveryone = await demo.publish({ broadcast: true }, 'maintenance', '{ "at": "22:00 UTC" }');
        expect(toEveryone).toMatch(/^Accepted → broadcast #\d+$/);
        expect((await demo.waitForFeed(10))[0]).toMatchObject({ channel: 'broadcast', type: 'maintenance' });
      },
      BROWSER_TEST_TIMEOUT_MS,
    );

    it(
      'explains a payload that is not JSON and a request the server refuses',
      async () => {
        const before = await demo.feedCount();
        expect(await demo.publish({ user }, 'greeting', '{ not json')).toMatch(/^The payload is not JSON: /);
        expect(await demo.publishResultKind()).toBe('bad');

        expect(await demo.publish({ topic: 'no spaces allowed' }, 'greeting', '{}')).toContain('topics');
        expect(await demo.publishResultKind()).toBe('bad');
        expect(await demo.feedCount()).toBe(before);

        // The next accepted publish is the marker: nothing from the refused two came before it.
        await demo.publish({ user }, 'greeting', '{ "text": "Hello from Herald" }');
        const [newest] = await demo.waitForFeed(before + 1);
        expect(newest).toMatchObject({ type: 'greeting', payload: { text: 'Hello from Herald' } });
        expect(await demo.feedCount()).toBe(before + 1);
        await sleep(2000); // let the arrival highlight fade before the picture
        await saveScreenshot(page, 'demo.png');
      },
      BROWSER_TEST_TIMEOUT_MS,
    );
  });
});

describe('demo page (production)', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp({ NODE_ENV: 'production' });
  });
  afterAll(async () => {
    await app?.kill();
  });

  it.each(['/', '/demo', '/demo/herald-client.js', '/demo/token?user=bob'])('has no %s', async (path) => {
    expect((await httpRequest('GET', `${app.url}${path}`)).status).toBe(404);
  });

  it('has no key-less publish route', async () => {
    const response = await post(app, '/demo/publish', aNotification(['bob']), { apiKey: null });
    expect(response.status).toBe(404);
  });
});
