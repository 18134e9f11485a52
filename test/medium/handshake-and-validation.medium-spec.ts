import { OTHER_API_KEY } from '../support/app';
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
import { InProcessApp, startInProcessApp } from '../support/in-process';

/** Bad input gets a clear error and disturbs nothing else. */
describe('refusals', () => {
  let app: InProcessApp;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    app = await startInProcessApp({ env: { MAX_PAYLOAD_BYTES: '200000' } });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await app?.close();
  });

  describe('WebSocket handshake', () => {
    it.each([
      ['no token', ''],
      ['a malformed token', '?access_token=not-a-jwt'],
      ['a wrongly signed token', `?access_token=${aToken({ secret: 'another-secret-0123456789abcdef' })}`],
      ['an expired token', `?access_token=${aToken({ expiresIn: -10 })}`],
    ])('refuses %s with 401 and a JSON body, before any WebSocket opens', async (_case, query) => {
      const refusal = await refusedUpgrade(`${app.wsUrl}${query}`);
      expect(refusal.status).toBe(401);
      expect(refusal.headers['content-type']).toMatch(/application\/json/);
      expect(refusal.body).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: expect.any(String) as unknown,
      });
    });

    it('names the reason of an expired token', async () => {
      const refusal = await refusedUpgrade(`${app.wsUrl}?access_token=${aToken({ expiresIn: -10 })}`);
      expect(refusal.body.message).toBe('token expired');
    });

    it('accepts the token in the Authorization header', async () => {
      const token = aToken();
      const client = await connect(app, '', { headers: { authorization: `Bearer ${token}` } });
      clients.push(client);
      expect((await client.nextFrame('ready', 0).catch(() => client.frames[0])).data).toMatchObject({
        channels: expect.any(Array) as unknown,
      });
    });

    it('answers 404 for another path and 400 for a half recovery query', async () => {
      expect((await refusedUpgrade(`ws://127.0.0.1:${app.port}/v2/ws?access_token=${aToken()}`)).status).toBe(
        404,
      );
      expect((await refusedUpgrade(`${app.wsUrl}?access_token=${aToken()}&offset=3`)).status).toBe(400);
    });
  });

  describe('client frames', () => {
    it('answers bad frames with error frames and keeps the connection', async () => {
      const user = aUserId();
      const client = await connect(app, aToken({ sub: user }));
      clients.push(client);
      // [frame, a part of the error message]
      const bad: [string, string][] = [
        ['not json', 'frame is not JSON'],
        ['[1,2]', 'frame must be a JSON object {"event": string, "data": object}'],
        [JSON.stringify({ event: 'dance', data: {} }), 'unknown event "dance"'],
        [
          JSON.stringify({ event: 'subscribe', data: { channel: 7 } }),
          'subscribe: `channel` must be a string',
        ],
        [
          JSON.stringify({ event: 'subscribe', data: { channel: 'topic:bad name' } }),
          'channel must be user:<id>, topic:<name>',
        ],
        [
          JSON.stringify({ event: 'subscribe', data: { channel: 'topic:x', offset: 1 } }),
          '`epoch` must be a non-empty string',
        ],
        [
          JSON.stringify({ event: 'unsubscribe', data: { channel: 'broadcast' } }),
          'only topic channels can be left',
        ],
      ];
      for (const [frame, message] of bad) {
        client.socket.send(frame);
        const { data } = await client.nextFrame('error');
        expect(data.code).toBe('bad_request');
        expect(data.message).toContain(message);
      }
      client.socket.send(Buffer.from('{}'), { binary: true });
      expect((await client.nextFrame('error')).data).toMatchObject({ code: 'bad_request' });
      client.send('ping', {});
      await client.nextFrame('pong');
      await publish(app, aNotification([user]));
      await client.waitForNotifications(1);
    });

    it('closes the connection with 1009 for a frame over 16 KiB, and the replica keeps serving', async () => {
      const client = await connect(app, aToken());
      client.send('ping', { padding: 'x'.repeat(17 * 1024) });
      expect((await client.waitClosed()).code).toBe(1009);
      const user = aUserId();
      const other = await connect(app, aToken({ sub: user }));
      clients.push(other);
      await publish(app, aNotification([user]));
      await other.waitForNotifications(1);
    });

    it('refuses more than 100 topics on one connection', async () => {
      const client = await connect(app, aToken({ topics: ['*'] }));
      clients.push(client);
      for (let i = 0; i < 100; i++) client.send('subscribe', { channel: `topic:t${i}` });
      for (let i = 0; i < 100; i++) await client.nextFrame('subscribed');
      client.send('subscribe', { channel: 'topic:one-too-many' });
      expect((await client.nextFrame('error')).data).toMatchObject({
        code: 'too_many_subscriptions',
        channel: 'topic:one-too-many',
      });
      client.send('subscribe', { channel: 'topic:t5' });
      expect((await client.nextFrame('subscribed')).data).toMatchObject({ channel: 'topic:t5' });
    });
  });

  describe('publish', () => {
    it('refuses a missing or unknown API key with 401', async () => {
      for (const apiKey of [null, 'wrong-key']) {
        const response = await publish(app, aNotification(['a']), { apiKey });
        expect(response.status).toBe(401);
        expect(response.body).toEqual({
          statusCode: 401,
          error: 'Unauthorized',
          message: expect.any(String) as unknown,
        });
      }
      expect((await publish(app, aNotification(['a']), { apiKey: OTHER_API_KEY })).status).toBe(202);
    });

    it.each(
      [
        [{ type: 't', payload: 1 }, 'no target'],
        [{ users: 'alice', type: 't', payload: 1 }, 'users must be an array'],
        [{ users: [''], type: 't', payload: 1 }, 'users must be 1-200 characters'],
        [{ users: ['a\u0001b'], type: 't', payload: 1 }, 'users must not contain control characters'],
        [
          { users: Array.from({ length: 10001 }, (_, i) => `u${i}`), type: 't', payload: 1 },
          'users must contain no more than 10000 elements',
        ],
        [{ topics: ['bad topic'], type: 't', payload: 1 }, 'topics must be 1-200 characters'],
        [{ users: ['a'], type: '', payload: 1 }, 'type must be longer than or equal to 1'],
        [{ users: ['a'], type: 'x'.repeat(101), payload: 1 }, 'type must be shorter than or equal to 100'],
        [{ users: ['a'], type: 't' }, 'payload is required'],
        [{ users: ['a'], type: 't', payload: 1, color: 'red' }, 'color'],
        [{ broadcast: 'yes', type: 't', payload: 1 }, 'broadcast must be a boolean'],
      ].map(([body, message]) => [message, body] as const),
    )('answers 400 with a message naming the field: %s', async (message, body) => {
      const response = await publish(app, body);
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(response.body.message).toContain(message);
    });

    it('accepts null as a payload', async () => {
      expect((await publish(app, { users: ['a'], type: 't', payload: null })).status).toBe(202);
    });

    it('answers 400 for malformed JSON and 413 over MAX_PAYLOAD_BYTES', async () => {
      const malformed = await post(app, '/v1/notifications', '{"users": [');
      expect(malformed.status).toBe(400);
      expect(malformed.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      const big = await publish(app, aNotification(['a'], 'x'.repeat(200_001)));
      expect(big).toMatchObject({ status: 413, body: { statusCode: 413, error: 'Payload Too Large' } });
    });

    it('answers 404 in the error shape for an unknown route', async () => {
      const response = await post(app, '/v1/nothing', {});
      expect(response.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
    });
  });
});
