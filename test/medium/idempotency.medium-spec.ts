import { OTHER_API_KEY } from '../support/app';
import { aNotification, aUserId, publish } from '../support/client';
import { InProcessApp, startInProcessApp } from '../support/in-process';
import { startRedis, TestRedis } from '../support/redis';

/** Idempotency-Key on one replica, on either engine: the key's scope and its validation. */
describe.each([
  ['redis', true],
  ['memory', false],
])('idempotent publishing (%s engine)', (_engine, withRedis) => {
  let redis: TestRedis | undefined;
  let app: InProcessApp;

  beforeAll(async () => {
    redis = withRedis ? await startRedis() : undefined;
    app = await startInProcessApp({ redis });
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('scopes keys by API key', async () => {
    const user = aUserId();
    const key = `shared-${user}`;
    const mine = await publish(app, aNotification([user]), { headers: { 'Idempotency-Key': key } });
    const theirs = await publish(app, aNotification([user]), {
      apiKey: OTHER_API_KEY,
      headers: { 'Idempotency-Key': key },
    });
    expect(theirs.status).toBe(202);
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
    expect(theirs.body.id).not.toBe(mine.body.id);
  });

  it('refuses a key longer than 200 characters with 400', async () => {
    const response = await publish(app, aNotification(['x']), {
      headers: { 'Idempotency-Key': 'k'.repeat(201) },
    });
    expect(response.status).toBe(400);
    expect(response.body.message).toContain('Idempotency-Key');
  });
});
