import { request } from 'node:http';
import { TEST_API_KEY } from '../support/app';
import { aToken, aUserId, connect } from '../support/client';
import { getJson } from '../support/http';
import { InProcessApp, startInProcessApp } from '../support/in-process';
import { startRedis, TestRedis } from '../support/redis';
import { waitUntil } from '../support/wait';

/** An upgrade request with a valid token that `ws` refuses after Herald admitted it. */
function badVersionUpgrade(app: InProcessApp, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${app.url}/v1/ws?access_token=${token}`, {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Key': Buffer.alloc(16, 1).toString('base64'),
        'Sec-WebSocket-Version': '7',
      },
    });
    req.on('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    req.on('upgrade', () => reject(new Error('the upgrade was accepted')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Contract, "Input rules": an upgrade request that the WebSocket layer refuses after Herald admitted
 * it leaves nothing behind — no presence entry, no place taken under MAX_CONNECTIONS_PER_USER.
 * Real: the app in-process and Redis.
 */
describe('an upgrade refused by ws after its admission', () => {
  let redis: TestRedis;
  let app: InProcessApp;

  beforeAll(async () => {
    redis = await startRedis();
    app = await startInProcessApp({ redis, env: { MAX_CONNECTIONS_PER_USER: '1' } });
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('gives the presence entry and the per-user place back at once', async () => {
    const user = aUserId('refused');
    const token = aToken({ sub: user });
    expect(await badVersionUpgrade(app, token)).toBe(400);
    const presence = () =>
      getJson(`${app.url}/v1/presence/${user}`, { authorization: `Bearer ${TEST_API_KEY}` }).then(
        ({ body }) => body.connections as number,
      );
    // Before the fix the entry stayed for two heartbeat intervals (50 s by default).
    await waitUntil(async () => (await presence()) === 0, 2000, 'the presence entry to be given back');
    const client = await connect(app, token);
    expect(client.frames[0].event).toBe('ready');
    expect(await presence()).toBe(1);
    await client.close();
  });
});
