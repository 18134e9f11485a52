import WebSocket from 'ws';
import { startApp, TestApp } from '../support/app';
import {
  aNotification,
  aToken,
  aUserId,
  connect,
  publish,
  publishMarker,
  TestClient,
} from '../support/client';
import { httpRequest } from '../support/http';
import { sleep, waitUntil } from '../support/wait';

describe('heartbeat', () => {
  it('closes a connection that answers no pings with 4009, and keeps one that does', async () => {
    const app = await startApp({ HEARTBEAT_INTERVAL_MS: '200' });
    const silent = await connect(app, aToken(), { wsOptions: { autoPong: false } });
    const alive = await connect(app, aToken());
    try {
      const { code } = await silent.waitClosed();
      expect(code).toBe(4009);
      expect(alive.socket.readyState).toBe(WebSocket.OPEN);
    } finally {
      await Promise.all([silent.close(), alive.close()]);
      await app.kill();
    }
  });
});

/** How the server ends connections: slow consumer (4008), token expiry (4001); drain (1012) below. */
describe('connection policies', () => {
  let app: TestApp;
  const clients: TestClient[] = [];
  const track = (client: TestClient) => (clients.push(client), client);

  beforeAll(async () => {
    app = await startApp({ WS_MAX_BUFFERED_BYTES: '65536' });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await app?.kill();
  });

  it('cuts off a consumer that stops reading with 4008 and keeps delivering to the others', async () => {
    const user = aUserId('slow');
    const other = aUserId('fast');
    const slow = track(await connect(app, aToken({ sub: user })));
    const fast = track(await connect(app, aToken({ sub: other })));
    (slow.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const payload = 'x'.repeat(30_000);
    // Enough to fill the kernel's socket buffers and then WS_MAX_BUFFERED_BYTES.
    for (let n = 0; n < 400; n++)
      await publish(app, { users: [user, other], type: 'big', payload: { n, payload } });
    await fast.waitForNotifications(400, `user:${other}`, 20_000);
    (slow.socket as unknown as { _socket: { resume(): void } })._socket.resume();
    const { code } = await slow.waitClosed();
    expect(code).toBe(4008);
    expect(slow.notifications().length).toBeLessThan(400);
    const metrics = await httpRequest('GET', `${app.url}/metrics`);
    expect(metrics.text).toContain('herald_connection_cutoffs_total{reason="slow_consumer"} 1');
  }, 60_000);

  it('closes a connection with 4001 when its token expires, unless it was refreshed', async () => {
    const user = aUserId('expiring');
    // One token for both: the same `exp`, so the server's expiry of each falls at the same moment.
    const shortLived = aToken({ sub: user, expiresIn: 2 });
    const expiring = track(await connect(app, shortLived));
    const refreshed = track(await connect(app, shortLived));
    refreshed.send('refresh', { token: aToken({ sub: user, expiresIn: 60 }) });
    const { data } = await refreshed.nextFrame('refreshed');
    expect(data.exp).toBeGreaterThan(Date.now() / 1000 + 50);
    expect((await expiring.waitClosed()).code).toBe(4001);
    // Past the shared expiry: a close of the refreshed connection would come before this marker.
    await refreshed.notificationsBefore(await publishMarker(app, { users: [user] }));
    expect(refreshed.socket.readyState).toBe(WebSocket.OPEN);
    await publish(app, aNotification([user]));
    await refreshed.waitForNotifications(1);
  });

  it('refuses a refresh token of another user or an invalid one, keeping the connection', async () => {
    const client = track(await connect(app, aToken({ sub: aUserId() })));
    client.send('refresh', { token: aToken({ sub: 'someone-else' }) });
    expect((await client.nextFrame('error')).data).toMatchObject({ code: 'forbidden' });
    client.send('refresh', { token: 'garbage' });
    expect((await client.nextFrame('error')).data).toMatchObject({ code: 'bad_request' });
    client.send('ping', {});
    await client.nextFrame('pong');
  });
});

describe('graceful drain', () => {
  it('on SIGTERM answers readiness 503, closes every client with 1012 and exits 0', async () => {
    const app = await startApp();
    const clients = [await connect(app, aToken()), await connect(app, aToken())];
    // A client that does not read keeps the drain waiting for its close, so readiness can be seen at 503.
    const stalled = await connect(app, aToken());
    (stalled.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const readiness: number[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        readiness.push(
          await httpRequest('GET', `${app.url}/health/ready`, { timeoutMs: 1000 }).then(
            (r) => r.status,
            () => 0,
          ),
        );
        await sleep(5);
      }
    })();
    await waitUntil(() => readiness.length > 0, 5000, 'a readiness answer');
    const before = readiness.length;
    const started = Date.now();
    const exitCode = await app.stop();
    polling = false;
    await poller;
    expect(exitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    for (const client of clients) expect((await client.waitClosed()).code).toBe(1012);
    expect(readiness.slice(before)).toContain(503);
    stalled.socket.terminate();
  });
});
