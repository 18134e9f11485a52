import { OTHER_API_KEY, TestApp } from '../support/app';
import { aNotification, post, publish } from '../support/client';
import { startCluster, TestCluster } from '../support/cluster';
import { sleep } from '../support/wait';

/** PUBLISH_RATE_LIMIT: one budget per API key, shared by every replica. */
describe('publish rate limit', () => {
  let cluster: TestCluster;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    cluster = await startCluster(2, { PUBLISH_RATE_LIMIT: '10' });
    [a, b] = cluster.replicas;
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('answers 429 with Retry-After once two replicas together pass one key’s budget, and not for another key', async () => {
    // The window opens with the first request and lasts a second: all 16 concurrent requests fall in it.
    const responses = await Promise.all(
      Array.from({ length: 16 }, (_, i) => publish(i % 2 === 0 ? a : b, aNotification(['limited']))),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 202).length).toBeLessThanOrEqual(10);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(6);
    const limited = responses.find((r) => r.status === 429);
    expect(limited?.headers['retry-after']).toBe('1');
    expect(limited?.body).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
    expect((await publish(b, aNotification(['other']), { apiKey: OTHER_API_KEY })).status).toBe(202);
    expect((await post(a, '/v1/notifications/batch', { notifications: [aNotification(['x'])] })).status).toBe(
      429,
    );
    await sleep(1100);
    expect((await publish(a, aNotification(['limited']))).status).toBe(202);
  });
});
