import { createECDH } from 'node:crypto';
import { request } from 'node:http';
import webpush from 'web-push';
import { FakePushService, FakeSubscription } from './fake-push-service';

/** A VAPID identity as `npx web-push generate-vapid-keys` makes one. */
const aVapidIdentity = () => {
  const keys = webpush.generateVAPIDKeys();
  return { subject: 'mailto:ops@example.com', publicKey: keys.publicKey, privateKey: keys.privateKey };
};

/** POSTs what web-push's generateRequestDetails built, over plain HTTP. */
function send(
  details: webpush.RequestDetails,
): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      details.endpoint,
      { method: 'POST', headers: details.headers, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(details.body ?? undefined);
  });
}

describe(FakePushService.name, () => {
  const vapid = aVapidIdentity();
  let sut: FakePushService;
  let subscription: FakeSubscription;

  beforeAll(async () => {
    sut = await FakePushService.start(vapid.publicKey);
  });
  afterAll(() => sut.close());
  beforeEach(() => {
    subscription = sut.subscribe();
  });

  const push = (message: string, options: webpush.RequestOptions = {}) =>
    send(webpush.generateRequestDetails(subscription, message, { vapidDetails: vapid, ...options }));

  it('verifies the VAPID JWT and decrypts what web-push encrypted', async () => {
    const response = await push('{"hello":"wörld"}', { TTL: 60, urgency: 'high', topic: 'orders' });
    expect(response.status).toBe(201);
    expect(response.headers.location).toMatch(new RegExp(`^${sut.origin}/message/`));
    const [record] = sut.requestsFor(subscription);
    expect(record).toMatchObject({ status: 201, message: '{"hello":"wörld"}' });
    expect(record.claims).toMatchObject({ aud: sut.origin, sub: 'mailto:ops@example.com' });
    expect(record.headers).toMatchObject({ ttl: '60', urgency: 'high', topic: 'orders' });
    expect(sut.delivered(subscription)).toEqual([{ hello: 'wörld' }]);
  });

  it('mints subscriptions as a browser does: a P-256 point and a 16-byte auth secret', () => {
    expect(Buffer.from(subscription.keys.p256dh, 'base64url')).toHaveLength(65);
    expect(Buffer.from(subscription.keys.auth, 'base64url')).toHaveLength(16);
    const sender = createECDH('prime256v1');
    sender.generateKeys();
    expect(sender.computeSecret(Buffer.from(subscription.keys.p256dh, 'base64url'))).toHaveLength(32);
  });

  it('refuses a push signed by another VAPID key (403) and one whose aud is another origin (401)', async () => {
    const stranger = aVapidIdentity();
    await expect(push('x', { vapidDetails: stranger })).resolves.toMatchObject({ status: 403 });
    const forged = webpush.generateRequestDetails(
      { ...subscription, endpoint: subscription.endpoint.replace('127.0.0.1', 'localhost') },
      'x',
      { vapidDetails: vapid },
    );
    await expect(send(forged)).resolves.toMatchObject({ status: 401 });
    expect(sut.requestsFor(subscription).map((record) => record.problem)).toEqual([
      expect.stringContaining('k= is not the application server key'),
      expect.stringContaining(`aud must be ${sut.origin}`),
    ]);
  });

  it('refuses a message it cannot decrypt (encrypted for another subscription)', async () => {
    const other = sut.subscribe();
    const details = webpush.generateRequestDetails(other, 'secret', { vapidDetails: vapid });
    await expect(send({ ...details, endpoint: subscription.endpoint })).resolves.toMatchObject({
      status: 400,
    });
    expect(sut.requestsFor(subscription)[0].problem).toMatch(/^cannot decrypt/);
  });

  it('answers the scripted statuses in order, then 201 again', async () => {
    sut.answer(
      subscription,
      { status: 429, retryAfter: '7' },
      { status: 410 },
      { status: 413 },
      { status: 503 },
    );
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await push(JSON.stringify({ n: i })));
    expect(answers.map((answer) => answer.status)).toEqual([429, 410, 413, 503, 201]);
    expect(answers[0].headers['retry-after']).toBe('7');
    expect(sut.delivered(subscription)).toEqual([{ n: 4 }]);
    expect(sut.requestsFor(subscription).map((record) => record.message)).toEqual(
      [0, 1, 2, 3, 4].map((n) => JSON.stringify({ n })),
    );
  });

  it('holds a slow answer for as long as it is told', async () => {
    sut.answer(subscription, { status: 201, delayMs: 300 });
    const started = Date.now();
    await expect(push('slow')).resolves.toMatchObject({ status: 201 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('knows no endpoint it did not mint (404)', async () => {
    const details = webpush.generateRequestDetails(subscription, 'x', { vapidDetails: vapid });
    await expect(send({ ...details, endpoint: `${sut.origin}/push/unknown` })).resolves.toMatchObject({
      status: 404,
    });
    await expect(sut.waitForRequests(subscription, 1, 200)).rejects.toThrow('timed out');
  });
});
