import { request as httpRequestRaw } from 'node:http';
import WebSocket from 'ws';
import { OTHER_API_KEY, startApp, TEST_API_KEY, TestApp } from '../support/app';
import {
  aNotification,
  aToken,
  aUserId,
  connect,
  post,
  publish,
  refusedUpgrade,
  TestClient,
} from '../support/client';
import { httpRequest } from '../support/http';
import { startRedis, TestRedis } from '../support/redis';
import { waitUntil } from '../support/wait';

const READ_KEY = 'read-only-key-secret';
const PUBLISH_KEY = 'publish-only-key-secret';
const ERROR_SHAPE = {
  statusCode: expect.any(Number) as unknown,
  error: expect.any(String) as unknown,
  message: expect.any(String) as unknown,
};

/** `levels` of nested arrays around 1 (0 levels → 1). */
const nested = (levels: number): string => `${'['.repeat(levels)}1${']'.repeat(levels)}`;

const get = async (app: TestApp, path: string, apiKey: string | null = TEST_API_KEY) => {
  const response = await httpRequest('GET', `${app.url}${path}`, {
    headers: apiKey === null ? {} : { authorization: `Bearer ${apiKey}` },
  });
  return { status: response.status, body: JSON.parse(response.text) as Record<string, unknown> };
};

/** A raw body with a Content-Type of the test's choice. */
const postRaw = async (app: TestApp, path: string, contentType: string | undefined, body: string) => {
  const response = await httpRequest('POST', `${app.url}${path}`, {
    headers: {
      authorization: `Bearer ${TEST_API_KEY}`,
      ...(contentType === undefined ? {} : { 'content-type': contentType }),
    },
    body,
  });
  return { status: response.status, body: JSON.parse(response.text) as Record<string, unknown> };
};

/** Opens a WebSocket on exactly this URL and waits for `ready`. */
async function connectRaw(url: string): Promise<TestClient> {
  const client = new TestClient(new WebSocket(url));
  await client.nextFrame('ready');
  return client;
}

describe.each([
  ['the embedded engine', false],
  ['the Redis engine', true],
])('security on %s', (_engine, withRedis) => {
  let redis: TestRedis | undefined;
  let app: TestApp;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    redis = withRedis ? await startRedis() : undefined;
    app = await startApp({
      REDIS_URL: redis?.url,
      MAX_PAYLOAD_BYTES: '1048576',
      API_KEYS: `test:${TEST_API_KEY},other:${OTHER_API_KEY},auditor:${READ_KEY}:read,billing:${PUBLISH_KEY}:publish`,
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await app?.kill();
    await redis?.stop();
  });

  describe('ids are exactly what was validated', () => {
    it.each(['\ud800', '\udc00', `a\ud83d`, `\ude9a${aUserId()}`])(
      'refuses the lone-surrogate id %j everywhere an id comes in',
      async (id) => {
        const published = await publish(app, aNotification([id]));
        expect(published.status).toBe(400);
        expect(published.body.message).toBe('users must be well-formed Unicode (no lone surrogate)');
        const refusal = await refusedUpgrade(`${app.wsUrl}?access_token=${aToken({ sub: id })}`);
        expect(refusal.status).toBe(401);
        expect(refusal.body.message).toContain('no valid `sub`');
        const batch = await post(app, '/v1/notifications/batch', {
          notifications: [aNotification([id]), { ...aNotification(['ok']), idempotencyKey: `k${id}` }],
        });
        expect(batch.status).toBe(202);
        expect(batch.body.results).toEqual([
          { error: { ...ERROR_SHAPE, statusCode: 400 } },
          { error: { ...ERROR_SHAPE, statusCode: 400 } },
        ]);
      },
    );

    it('never delivers to the user whose id a lone surrogate would have turned into', async () => {
      const victim = `\ufffd${aUserId()}`;
      const client = await connect(app, aToken({ sub: victim }));
      clients.push(client);
      client.send('subscribe', { channel: `user:\ud800${victim.slice(1)}` });
      expect((await client.nextFrame('error')).data.code).toBe('bad_request');
      expect((await publish(app, aNotification([`\ud800${victim.slice(1)}`], { leaked: true }))).status).toBe(
        400,
      );
      expect((await publish(app, aNotification([victim], { marker: true }))).status).toBe(202);
      const [received] = await client.waitForNotifications(1);
      expect(received.payload).toEqual({ marker: true });
      expect(client.notifications()).toHaveLength(1);
    });
  });

  describe('bodies', () => {
    it.each([
      ['a form', 'application/x-www-form-urlencoded', 'users=a&type=t&payload=1'],
      ['text', 'text/plain', JSON.stringify(aNotification(['a']))],
      ['no Content-Type', undefined, JSON.stringify(aNotification(['a']))],
      ['a non-UTF-8 charset', 'application/json; charset=iso-8859-1', JSON.stringify(aNotification(['a']))],
      ['a JSON-like type', 'application/jsonx', JSON.stringify(aNotification(['a']))],
    ])('refuses %s with 415', async (_case, contentType, body) => {
      for (const path of ['/v1/notifications', '/v1/notifications/batch']) {
        const response = await postRaw(app, path, contentType, body);
        expect(response.status).toBe(415);
        expect(response.body).toEqual({ ...ERROR_SHAPE, statusCode: 415, error: 'Unsupported Media Type' });
      }
    });

    it('takes application/json with a UTF-8 charset', async () => {
      const body = JSON.stringify(aNotification([aUserId()]));
      expect((await postRaw(app, '/v1/notifications', 'application/json; charset=UTF-8', body)).status).toBe(
        202,
      );
    });

    it('accepts a payload nested 100 levels deep and refuses 101 naming the limit', async () => {
      const user = aUserId();
      const ok = await postRaw(
        app,
        '/v1/notifications',
        'application/json',
        `{"users":["${user}"],"type":"t","payload":${nested(100)}}`,
      );
      expect(ok.status).toBe(202);
      const deep = await postRaw(
        app,
        '/v1/notifications',
        'application/json',
        `{"users":["${user}"],"type":"t","payload":${nested(101)}}`,
      );
      expect(deep).toEqual({
        status: 400,
        body: {
          ...ERROR_SHAPE,
          statusCode: 400,
          message: 'payload must not nest arrays/objects more than 100 levels deep',
        },
      });
    });

    it('gives a too-deep batch item a 400 result and publishes the others', async () => {
      const user = aUserId();
      const body = `{"notifications":[{"users":["${user}"],"type":"t","payload":${nested(101)}},{"users":["${user}"],"type":"t","payload":1}]}`;
      const response = await postRaw(app, '/v1/notifications/batch', 'application/json', body);
      expect(response.status).toBe(202);
      const results = response.body.results as Record<string, unknown>[];
      expect(results[0]).toEqual({
        error: { ...ERROR_SHAPE, statusCode: 400, message: expect.stringContaining('100 levels') as unknown },
      });
      expect(results[1]).toMatchObject({ id: expect.any(String) as unknown });
    });

    it('answers a body nested 100,000 levels deep with 400 (413 over the size), and keeps delivering', async () => {
      const user = aUserId();
      const client = await connect(app, aToken({ sub: user }));
      clients.push(client);
      const deep = nested(100_000);
      const bodies: [string, string, number][] = [
        ['/v1/notifications', `{"users":["${user}"],"type":"t","payload":${deep}}`, 400],
        ['/v1/notifications', `{"users":["${user}"],"type":"t","payload":${nested(600_000)}}`, 413],
        ['/v1/notifications', deep, 400],
        ['/v1/notifications', `{"users":${deep},"type":"t","payload":1}`, 400],
        ['/v1/notifications/batch', `{"notifications":${deep}}`, 400],
        ['/v1/notifications/batch', `{"notifications":[${deep}]}`, 400],
      ];
      for (const [path, body, status] of bodies) {
        const response = await postRaw(app, path, 'application/json', body);
        expect(response.status).toBe(status);
        expect(response.body).toEqual({ ...ERROR_SHAPE, statusCode: status });
      }
      const keyed = await httpRequest('POST', `${app.url}/v1/notifications`, {
        headers: {
          authorization: `Bearer ${TEST_API_KEY}`,
          'content-type': 'application/json',
          'idempotency-key': aUserId(),
        },
        body: bodies[0][1],
      });
      expect(keyed.status).toBe(400);
      const batch = await postRaw(
        app,
        '/v1/notifications/batch',
        'application/json',
        `{"notifications":[{"users":["${user}"],"type":"t","payload":${deep}}]}`,
      );
      expect((batch.body.results as { error: { statusCode: number } }[])[0].error.statusCode).toBe(400);
      expect((await publish(app, aNotification([user], { alive: true }))).status).toBe(202);
      expect((await client.waitForNotifications(1))[0].payload).toEqual({ alive: true });
      expect(app.output()).not.toContain('Maximum call stack');
    });
  });

  describe('credentials', () => {
    it.each(['\u00a0', '\u0085'])(
      'refuses an API key followed by %j (not HTTP whitespace)',
      async (space) => {
        const response = await httpRequest('POST', `${app.url}/v1/notifications`, {
          headers: { authorization: `Bearer ${TEST_API_KEY}${space}`, 'content-type': 'application/json' },
          body: JSON.stringify(aNotification(['a'])),
        });
        expect(response.status).toBe(401);
        const before = await httpRequest('GET', `${app.url}/v1/presence/a`, {
          headers: { authorization: `Bearer ${space}${TEST_API_KEY}` },
        });
        expect(before.status).toBe(401);
      },
    );

    it('refuses a publish without a valid key before reading its body', async () => {
      for (const path of ['/v1/notifications', '/v1/notifications/batch']) {
        // 16 MB announced, 16 bytes sent: the answer can only come before the body was read.
        const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
          const request = httpRequestRaw(`${app.url}${path}`, {
            method: 'POST',
            agent: false,
            headers: { 'content-type': 'application/json', 'content-length': String(16_000_000) },
          });
          const timer = setTimeout(() => reject(new Error('no answer within 5 s')), 5000);
          request.on('response', (response) => {
            let text = '';
            response.on('data', (chunk: Buffer) => (text += chunk.toString()));
            response.on('end', () => {
              clearTimeout(timer);
              resolve({ status: response.statusCode ?? 0, text });
            });
          });
          request.on('error', () => undefined);
          request.write('{"notifications":');
        });
        expect(answer.status).toBe(401);
        expect(JSON.parse(answer.text)).toEqual({ ...ERROR_SHAPE, statusCode: 401, error: 'Unauthorized' });
      }
    });

    it('refuses a client token followed by a no-break space at the handshake', async () => {
      const refusal = await refusedUpgrade(app.wsUrl, { authorization: `Bearer ${aToken()}\u00a0` });
      expect(refusal.status).toBe(401);
    });

    it('reads SSE credentials as the WebSocket handshake does', async () => {
      const user = aUserId('sse');
      const token = aToken({ sub: user });
      const nbsp = await httpRequest('GET', `${app.url}/v1/sse`, {
        headers: { authorization: `Bearer ${token}\u00a0` },
      });
      expect(nbsp.status).toBe(401);
      const firstEvents = await new Promise<string>((resolve, reject) => {
        const request = httpRequestRaw(`${app.url}/v1/sse?acc%65ss_token=${token}`, { agent: false });
        const timer = setTimeout(() => reject(new Error('no ready event within 5 s')), 5000);
        request.on('response', (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => {
            text += chunk.toString();
            if (!text.includes('event: ready')) return;
            clearTimeout(timer);
            request.destroy();
            resolve(text);
          });
        });
        request.on('error', () => undefined);
        request.end();
      });
      expect(firstEvents).toContain(`"userId":"${user}"`);
    });

    it('takes the bearer scheme in any case, as HTTP does', async () => {
      const response = await httpRequest('GET', `${app.url}/v1/presence/a`, {
        headers: { authorization: `bEaReR ${TEST_API_KEY}` },
      });
      expect(response.status).toBe(200);
    });

    it('keeps a token out of the logs however its parameter name is encoded', async () => {
      const user = aUserId();
      const token = aToken({ sub: user });
      const client = await connectRaw(`${app.wsUrl}?acc%65ss_token=${token}`);
      clients.push(client);
      expect(client.frames[0].data.userId).toBe(user);
      for (const name of ['access_token', 'acc%65ss_token', '%61ccess%5Ftoken', 'ACCESS_TOKEN']) {
        expect((await get(app, `/v1/presence/${user}?${name}=${token}`)).status).toBe(200);
      }
      const marker = aUserId('marker');
      await get(app, `/v1/presence/${marker}`);
      // Request lines are written once the response is sent; the marker's comes after the others.
      await waitUntil(() => app.output().includes(marker), 5000, 'the marker request in the log');
      expect(app.output()).not.toContain(token);
      expect(app.output()).not.toContain(token.split('.')[2]);
    });
  });

  describe('API-key scopes', () => {
    const invalidBody = { users: 'not-a-list' };

    it.each([
      ['POST', '/v1/notifications', READ_KEY, 'publish'],
      ['POST', '/v1/notifications/batch', READ_KEY, 'publish'],
      ['GET', '/v1/channels/user:alice/history', PUBLISH_KEY, 'read'],
      ['GET', '/v1/presence/alice', PUBLISH_KEY, 'read'],
    ])(
      '%s %s with a key without the scope → 403 naming it, before the body is looked at',
      async (method, path, key, scope) => {
        const response = await httpRequest(method, `${app.url}${path}`, {
          headers: {
            authorization: `Bearer ${key}`,
            ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
          },
          body: method === 'POST' ? JSON.stringify(invalidBody) : undefined,
        });
        expect(response.status).toBe(403);
        expect(JSON.parse(response.text)).toEqual({
          statusCode: 403,
          error: 'Forbidden',
          message: expect.stringContaining(`"${scope}" scope`) as unknown,
        });
      },
    );

    it('lets each scope do its own work, and an unscoped key everything', async () => {
      const user = aUserId();
      expect((await publish(app, aNotification([user]), { apiKey: PUBLISH_KEY })).status).toBe(202);
      expect((await get(app, `/v1/channels/user:${user}/history`, READ_KEY)).status).toBe(200);
      expect((await get(app, `/v1/presence/${user}`, READ_KEY)).status).toBe(200);
      expect((await publish(app, aNotification([user]), { apiKey: OTHER_API_KEY })).status).toBe(202);
      expect((await get(app, `/v1/presence/${user}`, OTHER_API_KEY)).status).toBe(200);
    });
  });
});

describe('the demo', () => {
  const demoPaths = ['/demo', '/demo/token?user=alice', '/'];

  it.each([
    ['JWT_SECRET', { API_KEYS: undefined }],
    ['API_KEYS', { JWT_SECRET: undefined }],
    ['both', {}],
  ])('is absent outside production when %s is configured', async (_case, env) => {
    const app = await startApp({ NODE_ENV: 'development', ...env });
    try {
      for (const path of demoPaths) expect((await get(app, path, null)).status).toBe(404);
      const published = await post(app, '/demo/publish', aNotification(['alice']), { apiKey: null });
      expect(published.status).toBe(404);
    } finally {
      await app.kill();
    }
  });

  it('exists when Herald generated every credential itself', async () => {
    const app = await startApp({ NODE_ENV: 'development', JWT_SECRET: undefined, API_KEYS: undefined });
    try {
      expect((await httpRequest('GET', `${app.url}/demo`)).status).toBe(200);
      expect((await get(app, '/demo/token?user=alice', null)).body).toMatchObject({ userId: 'alice' });
    } finally {
      await app.kill();
    }
  });
});
