import webpush from 'web-push';
import { FakePushService, FakeSubscription } from '../../test/support/fake-push-service';
import type { PushMessage } from '../protocol/wire';
import { MAX_ENCRYPTED_BYTES, retryAfterOf, WebPushSender } from './web-push.sender';

const keys = webpush.generateVAPIDKeys();
const vapid = { ...keys, subject: 'mailto:ops@example.com' };
const HEADERS = { ttlSeconds: 120, urgency: 'high' as const, topic: 'order-42' };

const aMessage = (overrides: Partial<PushMessage> = {}): PushMessage => ({
  id: '0b0e7f8c-6c59-4a43-9d5e-2f1b5a7c9e11',
  type: 'order.shipped',
  title: 'Shipped',
  body: 'Your order is on its way',
  url: 'https://shop.example/orders/42',
  icon: null,
  createdAt: '2030-01-01T00:00:00.000Z',
  payload: { orderId: 42 },
  ...overrides,
});

describe(WebPushSender.name, () => {
  let service: FakePushService;
  let subscription: FakeSubscription;
  let sut: WebPushSender;

  beforeAll(async () => {
    service = await FakePushService.start(keys.publicKey);
    sut = await WebPushSender.create(vapid, true, { connectMs: 1000, responseMs: 300 });
  });
  afterAll(async () => {
    sut.close();
    await service.close();
  });
  beforeEach(() => {
    subscription = service.subscribe();
  });

  it('sends a VAPID-signed aes128gcm message with TTL, Urgency and Topic; the push service decrypts it', async () => {
    await expect(sut.send(subscription, aMessage(), HEADERS)).resolves.toEqual({ kind: 'accepted' });
    const [record] = service.requestsFor(subscription);
    expect(record.headers).toMatchObject({
      ttl: '120',
      urgency: 'high',
      topic: 'order-42',
      'content-encoding': 'aes128gcm',
    });
    expect(record.claims).toMatchObject({ aud: service.origin, sub: 'mailto:ops@example.com' });
    expect(service.delivered(subscription)).toEqual([aMessage()]);
  });

  it('keeps connections open between pushes (one pool per scheme)', async () => {
    await sut.send(subscription, aMessage(), HEADERS);
    await sut.send(subscription, aMessage(), HEADERS);
    const [first, second] = service.requestsFor(subscription);
    expect(first.headers.connection).toBe('keep-alive');
    expect(second.headers.connection).toBe('keep-alive');
  });

  it('omits the payload when the encrypted message would pass 4,096 bytes', async () => {
    const big = aMessage({ payload: { text: 'x'.repeat(MAX_ENCRYPTED_BYTES) } });
    await expect(sut.send(subscription, big, HEADERS)).resolves.toEqual({ kind: 'accepted' });
    const [delivered] = service.delivered(subscription);
    expect(delivered).toEqual({ ...aMessage(), payload: undefined, payloadOmitted: true });
    expect(delivered).not.toHaveProperty('payload');
    expect(Number(service.requestsFor(subscription)[0].headers['content-length'])).toBeLessThanOrEqual(
      MAX_ENCRYPTED_BYTES,
    );
  });

  it('refuses a message that does not fit even without its payload', async () => {
    const huge = aMessage({ body: '🚚'.repeat(1000), title: '🚚'.repeat(200) });
    await expect(sut.send(subscription, huge, HEADERS)).resolves.toMatchObject({
      kind: 'rejected',
      status: null,
    });
    expect(service.requestsFor(subscription)).toEqual([]);
  });

  it.each([
    [{ status: 410 as const }, { kind: 'gone', status: 410 }],
    [{ status: 404 as const }, { kind: 'gone', status: 404 }],
    [{ status: 413 as const }, { kind: 'rejected', status: 413 }],
    [{ status: 503 as const }, { kind: 'retry', status: 503 }],
    [
      { status: 429 as const, retryAfter: '7' },
      { kind: 'retry', status: 429, retryAfterMs: 7000 },
    ],
  ])('reads the answer %j as %j', async (answer, outcome) => {
    service.answer(subscription, answer);
    await expect(sut.send(subscription, aMessage(), HEADERS)).resolves.toMatchObject(outcome);
  });

  it('gives up on a slow push service after the response timeout, to retry', async () => {
    service.answer(subscription, { status: 201, delayMs: 2000 });
    await expect(sut.send(subscription, aMessage(), HEADERS)).resolves.toMatchObject({
      kind: 'retry',
      status: null,
      reason: 'no response within 300 ms',
    });
  });

  it('retries when nothing listens on the endpoint', async () => {
    const closed = { ...subscription, endpoint: 'http://127.0.0.1:1/push/x' };
    await expect(sut.send(closed, aMessage(), HEADERS)).resolves.toMatchObject({
      kind: 'retry',
      status: null,
    });
  });

  it('without PUSH_ALLOW_PRIVATE_ENDPOINTS, refuses a name that resolves to a loopback address', async () => {
    const guarded = await WebPushSender.create(vapid, false);
    try {
      const viaName = { ...subscription, endpoint: subscription.endpoint.replace('127.0.0.1', 'localhost') };
      await expect(guarded.send(viaName, aMessage(), HEADERS)).resolves.toMatchObject({
        kind: 'rejected',
        reason: expect.stringContaining('resolves to the private address') as unknown,
      });
      expect(service.requestsFor(subscription)).toEqual([]);
    } finally {
      guarded.close();
    }
  });
});

describe(retryAfterOf.name, () => {
  it('reads seconds and HTTP dates as ms from now', () => {
    expect(retryAfterOf('7')).toBe(7000);
    expect(retryAfterOf(undefined)).toBeUndefined();
    expect(retryAfterOf('soon')).toBeUndefined();
    const inAMinute = new Date(Date.now() + 60_000).toUTCString();
    expect(retryAfterOf(inAMinute)).toBeGreaterThan(55_000);
    expect(retryAfterOf('Thu, 01 Jan 1970 00:00:00 GMT')).toBe(0);
  });
});
