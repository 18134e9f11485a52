import { startApp, TEST_API_KEY, TEST_JWT_SECRET, TestApp } from '../support/app';
import { aNotification, aToken, aUserId, connect, publish, TestClient } from '../support/client';
import { startRedis, TestRedis } from '../support/redis';
import { waitUntil } from '../support/wait';

/** The service's log lines, read from its process's output (metrics and OpenAPI: test/medium/observability). */
describe('observability: logs', () => {
  let redis: TestRedis;
  let app: TestApp;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    app = await startApp({ REDIS_URL: redis.url, LOG_LEVEL: 'info' });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await app?.kill();
    await redis?.stop();
  });

  it('logs one JSON line per publish with the notification id, and no token or API key anywhere', async () => {
    const user = aUserId('logged');
    const token = aToken({ sub: user });
    const client = await connect(app, token);
    clients.push(client);
    const response = await publish(app, aNotification([user]), {
      headers: { 'X-Request-Id': 'req-for-log-test' },
    });
    expect(response.headers['x-request-id']).toBe('req-for-log-test');
    await client.waitForNotifications(1);
    const lines = () =>
      app
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    const published = await waitUntil(
      () => lines().find((l) => l.msg === 'notification published' && l.notificationId === response.body.id),
      3000,
      'the publish log line',
    );
    expect(published).toMatchObject({
      level: 30,
      users: 1,
      channels: 1,
      requestId: 'req-for-log-test',
      apiKey: 'test',
    });
    expect(lines().some((l) => l.msg === 'connection opened' && l.userId === user)).toBe(true);
    await client.close();
    const closed = await waitUntil(
      () => lines().find((l) => l.msg === 'connection closed' && l.userId === user),
      3000,
      'the close log line',
    );
    expect(closed.code).toBe(1005);
    expect(app.output()).not.toContain(TEST_API_KEY);
    expect(app.output()).not.toContain(token);
    expect(app.output()).not.toContain(TEST_JWT_SECRET);
  });
});
