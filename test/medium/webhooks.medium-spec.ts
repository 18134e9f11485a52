import { DeliveryEvent, DeliveryEvents, DiscardedDeliveryEvents } from '../../src/webhooks/delivery-events';
import { verifyWebhook } from '../../publisher/src/webhooks';
import { aUserId } from '../support/client';
import { httpRequest } from '../support/http';
import { InProcessApp, startInProcessApp } from '../support/in-process';
import { startRedis, TestRedis } from '../support/redis';
import {
  ReceivedWebhook,
  startWebhookReceiver,
  WebhookAnswer,
  WebhookReceiver,
} from '../support/webhook-receiver';
import { waitUntil } from '../support/wait';

/**
 * Webhooks through the whole app in-process: delivery events are emitted through the app's own
 * DeliveryEvents provider (what acknowledgements and Web Push call), and POSTed to a real HTTP
 * receiver on loopback. Real: the app (one or two replicas on one real redis-server, or the memory
 * engine), the HTTP client and server. Replica crashes (SIGKILL) are in the e2e tier.
 */
const SECRET = 'whsec-medium-0123456789';

const aDeliveredEvent = (userId = aUserId()): DeliveryEvent => ({
  type: 'notification.delivered',
  data: { notificationId: `n-${userId}`, userId },
});

/** The app's DeliveryEvents provider, as H1's acks and pushes get it. */
const eventsOf = (app: InProcessApp) => app.app.get(DeliveryEvents);

/** The requests that carry `userId`'s event (each test uses users of its own). */
const requestsFor = (receiver: WebhookReceiver, userId: string): ReceivedWebhook[] =>
  receiver.received.filter((request) => (request.event.data as { userId?: string }).userId === userId);

async function metric(app: InProcessApp, line: RegExp): Promise<number | undefined> {
  const { text } = await httpRequest('GET', `${app.url}/metrics`);
  const match = text.split('\n').find((candidate) => line.test(candidate));
  return match === undefined ? undefined : Number(match.split(' ').pop());
}

/** A receiver whose answers each test scripts (default 204). */
async function aScriptedReceiver() {
  let script: (request: ReceivedWebhook, attempt: number) => WebhookAnswer = () => 204;
  const receiver = await startWebhookReceiver((request, attempt) => script(request, attempt));
  return {
    receiver,
    answerWith: (next: typeof script) => {
      script = next;
    },
  };
}

const webhookEnv = (receiver: WebhookReceiver, env: Record<string, string> = {}) => ({
  WEBHOOK_URL: receiver.url,
  WEBHOOK_SECRET: SECRET,
  ...env,
});

describe('webhooks (two replicas on one Redis)', () => {
  let redis: TestRedis;
  let scripted: Awaited<ReturnType<typeof aScriptedReceiver>>;
  let a: InProcessApp;
  let b: InProcessApp;

  beforeAll(async () => {
    redis = await startRedis();
    scripted = await aScriptedReceiver();
    a = await startInProcessApp({ redis, env: webhookEnv(scripted.receiver) });
    b = await startInProcessApp({ redis, env: webhookEnv(scripted.receiver) });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await scripted?.receiver.close();
    await redis?.stop();
  });
  beforeEach(() => scripted.answerWith(() => 204));
  /** A counter summed over both replicas (either may have made the attempt). */
  const metricOfBoth = async (line: RegExp) =>
    ((await metric(a, line)) ?? 0) + ((await metric(b, line)) ?? 0);

  it('POSTs {id, type, createdAt, data}, signed with WEBHOOK_SECRET, as JSON with a User-Agent', async () => {
    const user = aUserId();
    const before = Date.now();
    await eventsOf(a).emit(aDeliveredEvent(user));
    const [request] = await waitUntil(
      () => requestsFor(scripted.receiver, user).length > 0 && requestsFor(scripted.receiver, user),
      5000,
      'the webhook',
    );

    const event = verifyWebhook(request.rawBody, request.headers['herald-signature'], SECRET);
    expect(Object.keys(JSON.parse(request.rawBody) as object)).toEqual(['id', 'type', 'createdAt', 'data']);
    expect(event).toEqual({
      id: expect.stringMatching(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      ) as unknown,
      type: 'notification.delivered',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as unknown,
      data: { notificationId: `n-${user}`, userId: user },
    });
    expect(Date.parse(event.createdAt)).toBeGreaterThanOrEqual(before - 1);
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['user-agent']).toMatch(/^Herald-Webhooks\//);
    expect(request.headers['herald-webhook-attempt']).toBe('1');
    // Counted once the answer is in, just after the receiver recorded the request.
    await waitUntil(
      async () => (await metricOfBoth(/^herald_webhook_attempts_total\{outcome="delivered"\} /)) > 0,
      2000,
      'the delivered attempt to be counted',
    );
    expect(() =>
      verifyWebhook(request.rawBody, request.headers['herald-signature'], 'not-the-secret-123'),
    ).toThrow(/does not match/);
  });

  it('sends each event once, whichever replica emitted it, with both replicas polling', async () => {
    const users = Array.from({ length: 20 }, () => aUserId());
    await Promise.all(users.map((user, n) => eventsOf(n % 2 ? a : b).emit(aDeliveredEvent(user))));
    await waitUntil(
      () => users.every((user) => requestsFor(scripted.receiver, user).length > 0),
      10_000,
      '20 webhooks',
    );
    // Nothing pending any more (so nothing else can be sent), and no event was sent twice.
    await waitUntil(
      async () => (await metric(a, /^herald_webhook_pending_events /)) === 0,
      5000,
      'an empty queue',
    );
    expect(users.map((user) => requestsFor(scripted.receiver, user).length)).toEqual(users.map(() => 1));
  });

  it('retries an event answered 500 within 5 s, with the same id and body, signed anew', async () => {
    const user = aUserId();
    scripted.answerWith((_request, attempt) => (attempt === 1 ? 500 : 204));
    await eventsOf(a).emit(aDeliveredEvent(user));
    const [first, second] = await waitUntil(
      () => requestsFor(scripted.receiver, user).length >= 2 && requestsFor(scripted.receiver, user),
      8000,
      'the retry',
    );
    expect(second.receivedAt - first.receivedAt).toBeLessThan(5000);
    expect(second.rawBody).toBe(first.rawBody);
    expect(second.headers['herald-webhook-attempt']).toBe('2');
    expect(second.headers['herald-signature']).not.toBe(first.headers['herald-signature']);
    expect(verifyWebhook(second.rawBody, second.headers['herald-signature'], SECRET).id).toBe(first.event.id);
    expect(await metricOfBoth(/^herald_webhook_attempts_total\{outcome="failed_status"\} /)).toBe(1);
  });
});

describe('webhooks when a replica stops', () => {
  let redis: TestRedis;
  let scripted: Awaited<ReturnType<typeof aScriptedReceiver>>;
  const apps: InProcessApp[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    scripted = await aScriptedReceiver();
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await scripted?.receiver.close();
    await redis?.stop();
  });

  it('hands an event in flight back on stop; another replica sends it at once, with the same id', async () => {
    const user = aUserId();
    scripted.answerWith((_request, attempt) => (attempt === 1 ? 'hang' : 204));
    const first = await startInProcessApp({ redis, env: webhookEnv(scripted.receiver) });
    apps.push(first);
    await eventsOf(first).emit(aDeliveredEvent(user));
    const [hung] = await waitUntil(
      () => requestsFor(scripted.receiver, user).length > 0 && requestsFor(scripted.receiver, user),
      5000,
      'the first attempt',
    );
    const second = await startInProcessApp({ redis, env: webhookEnv(scripted.receiver) });
    apps.push(second);
    await first.close();
    // Well within the 15 s lease: the stopped replica gave the event back, due at once.
    const attempts = await waitUntil(
      () => requestsFor(scripted.receiver, user).length >= 2 && requestsFor(scripted.receiver, user),
      5000,
      'the event sent again by the other replica',
    );
    expect(attempts[1].event.id).toBe(hung.event.id);
    expect(attempts[1].rawBody).toBe(hung.rawBody);
  });
});

describe('webhook retries, timeouts and drops (short WEBHOOK_TIMEOUT_MS and schedule)', () => {
  let redis: TestRedis;
  let scripted: Awaited<ReturnType<typeof aScriptedReceiver>>;
  let app: InProcessApp;

  beforeAll(async () => {
    redis = await startRedis();
    scripted = await aScriptedReceiver();
    app = await startInProcessApp({
      redis,
      env: webhookEnv(scripted.receiver, { WEBHOOK_TIMEOUT_MS: '500', WEBHOOK_RETRY_SCHEDULE_MS: '200,200' }),
    });
  });
  afterAll(async () => {
    await app?.close();
    await scripted?.receiver.close();
    await redis?.stop();
  });

  it('retries an attempt that got no answer within WEBHOOK_TIMEOUT_MS, same id', async () => {
    const user = aUserId();
    scripted.answerWith((_request, attempt) => (attempt === 1 ? 'hang' : 204));
    await eventsOf(app).emit(aDeliveredEvent(user));
    const [first, second] = await waitUntil(
      () => requestsFor(scripted.receiver, user).length >= 2 && requestsFor(scripted.receiver, user),
      5000,
      'the retry after a timeout',
    );
    expect(second.event.id).toBe(first.event.id);
    expect(second.receivedAt - first.receivedAt).toBeGreaterThanOrEqual(500);
    expect(await metric(app, /^herald_webhook_attempts_total\{outcome="timeout"\} /)).toBe(1);
  });

  it('drops an event after its last attempt (1 + 2 retries), with the metric, and sends it no more', async () => {
    const user = aUserId();
    scripted.answerWith(() => 503);
    await eventsOf(app).emit(aDeliveredEvent(user));
    await waitUntil(
      async () => (await metric(app, /^herald_webhook_events_dropped_total /)) === 1,
      8000,
      'the event to be dropped',
    );
    const attempts = requestsFor(scripted.receiver, user);
    expect(attempts.map((request) => request.headers['herald-webhook-attempt'])).toEqual(['1', '2', '3']);
    expect(new Set(attempts.map((request) => request.event.id)).size).toBe(1);
    await waitUntil(
      async () => (await metric(app, /^herald_webhook_pending_events /)) === 0,
      5000,
      'an empty queue',
    );
  });
});

describe('webhooks on the memory engine', () => {
  let scripted: Awaited<ReturnType<typeof aScriptedReceiver>>;
  let app: InProcessApp;

  beforeAll(async () => {
    scripted = await aScriptedReceiver();
    app = await startInProcessApp({
      env: webhookEnv(scripted.receiver, { WEBHOOK_RETRY_SCHEDULE_MS: '200' }),
    });
  });
  afterAll(async () => {
    await app?.close();
    await scripted?.receiver.close();
  });

  it('sends a signed event, and retries it after a 500 with the same id', async () => {
    const user = aUserId();
    scripted.answerWith((_request, attempt) => (attempt === 1 ? 500 : 204));
    await eventsOf(app).emit({
      type: 'push_subscription.removed',
      data: { userId: user, subscriptionId: 's-1', reason: 'gone' },
    });
    const [first, second] = await waitUntil(
      () => requestsFor(scripted.receiver, user).length >= 2 && requestsFor(scripted.receiver, user),
      5000,
      'the retry',
    );
    expect(verifyWebhook(second.rawBody, second.headers['herald-signature'], SECRET)).toEqual(first.event);
    expect(first.event).toMatchObject({ type: 'push_subscription.removed', data: { subscriptionId: 's-1' } });
  });
});

describe('without WEBHOOK_URL', () => {
  it('discards delivery events', async () => {
    const app = await startInProcessApp();
    try {
      expect(eventsOf(app)).toBeInstanceOf(DiscardedDeliveryEvents);
      await expect(eventsOf(app).emit(aDeliveredEvent())).resolves.toBeUndefined();
      expect(await metric(app, /^herald_webhook_pending_events /)).toBe(0);
    } finally {
      await app.close();
    }
  });
});
