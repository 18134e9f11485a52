import type { Browser, Page } from 'playwright-core';
import { generatedCredentials, startApp, TestApp } from '../support/app';
import { aUserId, publish } from '../support/client';
import { waitUntil } from '../support/wait';
import { CHROMIUM_PATH, hasChromium, launchChromium, type PageProblems, watchPage } from './support/chromium';
import { DemoPage } from './support/demo-page';

const browserAvailable = hasChromium();
if (!browserAvailable) {
  console.warn(
    `${CHROMIUM_PATH} not found: skipping the SSE browser test (apt-get install chromium, as .ci/run does)`,
  );
}
const describeInBrowser = browserAvailable ? describe : describe.skip;

/**
 * The SDK's ES module build in Chromium with `transport: 'sse'`, on the browser's own EventSource: the
 * demo page with its transport set to Server-Sent Events.
 */
describeInBrowser('demo page over Server-Sent Events (Chromium)', () => {
  let app: TestApp;
  let browser: Browser;
  let page: Page;
  let problems: PageProblems;
  let demo: DemoPage;
  const streams: string[] = [];
  const webSockets: string[] = [];

  beforeAll(async () => {
    // The demo exists only when the replica generated its credentials itself.
    app = await startApp({ NODE_ENV: 'development', JWT_SECRET: undefined, API_KEYS: undefined });
    browser = await launchChromium();
    page = await browser.newPage();
    problems = watchPage(page);
    page.on('request', (request) => {
      if (request.resourceType() === 'eventsource') streams.push(request.url());
    });
    page.on('websocket', (socket) => webSockets.push(socket.url()));
    demo = new DemoPage(page);
  });
  afterAll(async () => {
    await browser?.close();
    await app?.kill();
  });

  it('receives a notification on its personal channel and on a topic it subscribed to', async () => {
    const user = aUserId('sse-page');
    const topic = `sse.page.${Date.now().toString(36)}`;
    await demo.open(app.url);
    await demo.chooseTransport('sse');
    expect(await demo.endpoint()).toBe('/v1/sse');

    await demo.connectAs(user);
    await demo.waitForState((state) => state === 'connected', 'connected');
    await demo.subscribe(topic);
    // A new stream, with the topic; the row shows offset 0 (an empty topic) once it is answered.
    await waitUntil(
      async () => (await demo.channels()).get(`topic:${topic}`) === 0,
      10_000,
      `topic:${topic} in the channel list`,
      50,
    );
    const { apiKey } = generatedCredentials(app);
    const toUser = await publish(
      app,
      { users: [user], type: 'greeting', payload: { to: 'user' } },
      { apiKey },
    );
    const toTopic = await publish(
      app,
      { topics: [topic], type: 'greeting', payload: { to: 'topic' } },
      { apiKey },
    );
    expect([toUser.status, toTopic.status]).toEqual([202, 202]);

    const feed = await demo.waitForFeed(2);
    expect(
      feed.map(({ id, channel, offset, payload }) => ({ id, channel, offset, payload })).reverse(),
    ).toEqual([
      { id: toUser.body.id, channel: `user:${user}`, offset: 1, payload: { to: 'user' } },
      { id: toTopic.body.id, channel: `topic:${topic}`, offset: 1, payload: { to: 'topic' } },
    ]);
    expect(webSockets).toEqual([]);
    expect(streams.map((url) => new URL(url).pathname)).toEqual(['/v1/sse', '/v1/sse']);
    const second = new URL(streams[1]).searchParams;
    expect(second.get('topics')).toBe(topic);
    expect(second.get('lastEventId')).toEqual(expect.any(String)); // the opaque id of the last event
    expect(problems.uncaught).toEqual([]);
    expect(problems.consoleErrors).toEqual([]);
  }, 60_000);
});
