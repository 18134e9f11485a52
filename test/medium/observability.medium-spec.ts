import { BATCH_BODY_DOCUMENT, PUBLISH_BODY_SCHEMA } from '../../src/publish/publish-body.schema';
import { aNotification, aToken, aUserId, connect, publish, TestClient } from '../support/client';
import { getJson, httpRequest } from '../support/http';
import { InProcessApp, startInProcessApp } from '../support/in-process';
import { startRedis, TestRedis } from '../support/redis';
import { waitUntil } from '../support/wait';

/** The value of a sample in Prometheus text, 0 when absent. */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

const scrape = async (app: InProcessApp) => (await httpRequest('GET', `${app.url}/metrics`)).text;

describe('observability', () => {
  let redis: TestRedis;
  let app: InProcessApp;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    app = await startInProcessApp({ redis });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await app?.close();
    await redis?.stop();
  });

  it('moves the metrics when things happen', async () => {
    const before = await scrape(app);
    const user = aUserId('metrics');
    const client = await connect(app, aToken({ sub: user, topics: ['m'] }));
    clients.push(client);
    client.send('subscribe', { channel: 'topic:m' });
    await client.nextFrame('subscribed');
    const key = `metrics-${user}`;
    await publish(app, aNotification([user]), { headers: { 'Idempotency-Key': key } });
    await publish(app, aNotification([user]), { headers: { 'Idempotency-Key': key } });
    await publish(app, { topics: ['m'], type: 't', payload: 1 });
    await client.waitForNotifications(2);
    const after = await scrape(app);
    const delta = (name: string, labels = '') => sample(after, name, labels) - sample(before, name, labels);
    expect(delta('herald_connections')).toBe(1);
    expect(delta('herald_subscriptions', '{kind="topic"}')).toBe(1);
    expect(delta('herald_subscriptions', '{kind="user"}')).toBe(1);
    expect(delta('herald_notifications_published_total', '{kind="user"}')).toBe(1);
    expect(delta('herald_notifications_published_total', '{kind="topic"}')).toBe(1);
    expect(delta('herald_notifications_delivered_total', '{kind="user"}')).toBe(1);
    expect(delta('herald_notifications_delivered_total', '{kind="topic"}')).toBe(1);
    expect(delta('herald_idempotent_replays_total')).toBe(1);
    expect(
      delta('herald_http_requests_total', '{method="POST",route="/v1/notifications",status="202"}'),
    ).toBe(3);
    expect(delta('herald_publish_duration_seconds_count')).toBe(2);
    expect(delta('herald_delivery_lag_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(after).toContain('process_cpu_seconds_total');

    const back = await connect(app, aToken({ sub: user }), {
      query: { offset: 0, epoch: (await client.waitForNotifications(1))[0].epoch },
    });
    clients.push(back);
    await back.waitForNotifications(1);
    expect(sample(await scrape(app), 'herald_notifications_replayed_total', '{source="recovery"}')).toBe(1);
  });

  it('counts Redis reconnects', async () => {
    await redis.client().client('KILL', 'TYPE', 'PUBSUB');
    await waitUntil(
      async () => sample(await scrape(app), 'herald_redis_reconnects_total', '{role="subscriber"}') >= 1,
      5000,
      'the reconnect metric',
    );
  });

  it('serves OpenAPI at /docs and /docs-json with every endpoint and status', async () => {
    const ui = await httpRequest('GET', `${app.url}/docs`);
    expect(ui.status).toBe(200);
    expect(ui.headers['content-type']).toContain('text/html');
    const { body } = await getJson(`${app.url}/docs-json`);
    const paths = body.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>;
    const statuses = (path: string, method: string) => Object.keys(paths[path][method].responses).sort();
    // The body schema that validates each publish is the one the document shows.
    const bodySchema = (path: string) =>
      (paths[path].post as unknown as { requestBody: { content: Record<string, { schema: unknown }> } })
        .requestBody.content['application/json'].schema;
    expect(bodySchema('/v1/notifications')).toEqual(PUBLISH_BODY_SCHEMA);
    expect(bodySchema('/v1/notifications/batch')).toEqual(BATCH_BODY_DOCUMENT);
    expect(statuses('/v1/notifications', 'post')).toEqual([
      '202',
      '400',
      '401',
      '403',
      '409',
      '413',
      '415',
      '422',
      '429',
      '503',
    ]);
    expect(statuses('/v1/notifications/batch', 'post')).toEqual([
      '202',
      '400',
      '401',
      '403',
      '413',
      '415',
      '429',
    ]);
    expect(statuses('/v1/channels/{channel}/history', 'get')).toEqual(['200', '400', '401', '403', '503']);
    expect(statuses('/v1/presence/{userId}', 'get')).toEqual(['200', '400', '401', '403', '503']);
    expect(statuses('/health/ready', 'get')).toEqual(['200', '503']);
    expect(Object.keys(paths)).toEqual(expect.arrayContaining(['/health/live', '/metrics']));
    expect(
      (body.components as { securitySchemes: Record<string, unknown> }).securitySchemes.apiKey,
    ).toMatchObject({ type: 'http', scheme: 'bearer' });
  });
});
