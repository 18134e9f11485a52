import WebSocket from 'ws';
import { HeraldClient, type HeraldClientOptions } from '../src';
import { FakeHeraldServer, aToken } from './support/fake-herald-server';
import { nextEvent, recordDeliveries, sleep, waitUntil } from './support/wait';

const PERSONAL = 'user:alice';
const TOPIC = 'topic:orders.42';
/**
 * How long a test waits to show that the client does NOT reconnect: a real-time effect (a backoff
 * timer that must not fire), so a fixed wait, several times connect()'s backoff ceiling (100 ms).
 */
const LONGER_THAN_ANY_BACKOFF_MS = 300;

describe(`${HeraldClient.name} against a Herald server`, () => {
  let server: FakeHeraldServer;
  const clients: HeraldClient[] = [];

  beforeEach(async () => {
    server = await FakeHeraldServer.start();
    // Full jitter at its top: every backoff delay is (almost exactly) its ceiling, so timings are testable.
    jest.spyOn(Math, 'random').mockReturnValue(0.999);
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await server.stop();
    jest.restoreAllMocks();
  });

  function connect(options: Partial<HeraldClientOptions> = {}): HeraldClient {
    const client = new HeraldClient({
      url: server.url,
      token: aToken(),
      WebSocket,
      reconnectBackoff: { baseMs: 20, capMs: 100 },
      ...options,
    });
    clients.push(client);
    return client;
  }

  async function connected(client: HeraldClient): Promise<void> {
    if (client.state !== 'connected') await nextEvent(client, 'connected');
  }

  it('connects with access_token, learns every position, and delivers live notifications', async () => {
    const token = aToken();
    const sut = connect({ token });
    const delivered = recordDeliveries(sut);

    await expect(nextEvent(sut, 'connected')).resolves.toMatchObject({ userId: 'alice' });
    const personal = server.publish(PERSONAL);
    const broadcast = server.publish('broadcast');
    await waitUntil(() => delivered.length === 2, 'two notifications');

    expect(server.connections[0].query.get('access_token')).toBe(token);
    expect(delivered).toEqual([`${PERSONAL}#1`, 'broadcast#1']);
    expect(sut.positions).toEqual({
      [PERSONAL]: { offset: 1, epoch: personal.epoch },
      broadcast: { offset: 1, epoch: broadcast.epoch },
    });
  });

  it('reconnects at once after 1012 and recovers the personal channel through the query', async () => {
    const sut = connect({ reconnectBackoff: { baseMs: 10_000, capMs: 10_000 } });
    await connected(sut);
    const { epoch } = server.publish(PERSONAL);
    await waitUntil(() => sut.positions[PERSONAL]?.offset === 1, 'the first notification');
    const startedAt = Date.now();

    server.closeAll(1012, 'restart');
    await expect(nextEvent(sut, 'disconnected')).resolves.toEqual({
      code: 1012,
      reason: 'restart',
      willReconnect: true,
    });
    await nextEvent(sut, 'connected');

    expect(Date.now() - startedAt).toBeLessThan(1000);
    expect(server.connections).toHaveLength(2);
    expect(server.connections[1].query.get('offset')).toBe('1');
    expect(server.connections[1].query.get('epoch')).toBe(epoch);
  });

  it('reconnects with backoff after 4009 and recovers every channel', async () => {
    const sut = connect({ reconnectBackoff: { baseMs: 300, capMs: 1000 } });
    sut.subscribe(TOPIC);
    await connected(sut);
    server.publish(TOPIC);
    server.publish('broadcast');
    await waitUntil(
      () => sut.positions[TOPIC]?.offset === 1 && sut.positions.broadcast?.offset === 1,
      'notifications',
    );
    const startedAt = Date.now();

    server.closeAll(4009, 'heartbeat timeout');
    await expect(nextEvent(sut, 'recovering')).resolves.toEqual({
      channels: expect.arrayContaining(['broadcast', TOPIC, PERSONAL]) as string[],
    });

    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(250);
    await nextEvent(sut, 'connected');
    const subscribes = server.connections[1].received.filter((frame) => frame.event === 'subscribe');
    expect(subscribes.map((frame) => frame.data)).toEqual(
      expect.arrayContaining([
        { channel: 'broadcast', offset: 1, epoch: sut.positions.broadcast.epoch },
        { channel: TOPIC, offset: 1, epoch: sut.positions[TOPIC].epoch },
      ]),
    );
  });

  it('delivers, once and in order, what was published while it was away — even racing the replay', async () => {
    const sut = connect({ reconnectBackoff: { baseMs: 200, capMs: 200 } });
    const delivered = recordDeliveries(sut);
    const unrecovered = jest.fn();
    sut.on('unrecovered', unrecovered);
    sut.subscribe(TOPIC);
    await connected(sut);
    for (const channel of [PERSONAL, TOPIC, 'broadcast']) server.publish(channel);
    await waitUntil(() => delivered.length === 3, 'the live notifications');
    server.raceLiveNotificationBeforeSubscribed = true;

    server.closeAll(4008, 'slow consumer');
    for (let round = 0; round < 3; round++) {
      for (const channel of [PERSONAL, TOPIC, 'broadcast']) server.publish(channel);
    }
    await nextEvent(sut, 'connected');
    for (const channel of [PERSONAL, TOPIC, 'broadcast']) server.publish(channel);
    await waitUntil(() => delivered.length === 15, 'every notification', 3000);
    // One marker per channel (offset 6): a duplicate would be delivered before it.
    for (const channel of [PERSONAL, TOPIC, 'broadcast']) server.publish(channel, 'test.marker');
    await waitUntil(() => delivered.length >= 18, 'the markers', 3000);

    for (const channel of [PERSONAL, TOPIC, 'broadcast']) {
      expect(delivered.filter((entry) => entry.startsWith(`${channel}#`))).toEqual(
        [1, 2, 3, 4, 5, 6].map((offset) => `${channel}#${offset}`),
      );
    }
    expect(delivered).toHaveLength(18);
    expect(unrecovered).not.toHaveBeenCalled();
  });

  it('does not reconnect after 1009, and reports the error', async () => {
    const sut = connect();
    await connected(sut);
    const error = nextEvent(sut, 'error');

    server.closeAll(1009, 'frame too big');

    await expect(error).resolves.toMatchObject({ code: 'frame_too_big' });
    await sleep(LONGER_THAN_ANY_BACKOFF_MS);
    expect(sut.state).toBe('closed');
    expect(server.connections).toHaveLength(1);
  });

  it('does not reconnect after a 401 refusal of a fixed token', async () => {
    const sut = connect({ token: 'not-a-jwt' });

    await expect(nextEvent(sut, 'error')).resolves.toMatchObject({ code: 'unauthorized' });
    await sleep(LONGER_THAN_ANY_BACKOFF_MS);

    expect(sut.state).toBe('closed');
    expect(server.refusedHandshakes).toBe(1);
    expect(server.connections).toHaveLength(0);
  });

  it('after a 401, fetches one fresh token with getToken, and gives up if that one is refused too', async () => {
    const goodToken = aToken();
    const accepted = connect({ token: 'stale', getToken: jest.fn().mockResolvedValue(goodToken) });
    await nextEvent(accepted, 'connected');
    expect(server.connections[0].query.get('access_token')).toBe(goodToken);

    const getToken = jest.fn().mockResolvedValue('still-bad');
    const refused = connect({ token: 'stale', getToken });
    await expect(nextEvent(refused, 'error')).resolves.toMatchObject({ code: 'unauthorized' });
    await sleep(LONGER_THAN_ANY_BACKOFF_MS);
    expect(getToken).toHaveBeenCalledTimes(1);
    expect(server.refusedHandshakes).toBe(3);
    expect(refused.state).toBe('closed');
  });

  it('on 4001 calls getToken, reconnects with the new token and recovers', async () => {
    const tokens = [aToken(), aToken()];
    let issued = 0;
    const getToken = jest.fn(() => Promise.resolve(tokens[issued++]));
    const sut = connect({ token: undefined, getToken });
    const delivered = recordDeliveries(sut);
    await connected(sut);
    server.publish(PERSONAL);
    await waitUntil(() => delivered.length === 1, 'a notification');

    server.closeAll(4001, 'token expired');
    server.publish(PERSONAL);
    await nextEvent(sut, 'connected');
    await waitUntil(() => delivered.length === 2, 'the notification published while away');

    expect(getToken).toHaveBeenCalledTimes(2);
    expect(server.connections[1].query.get('access_token')).toBe(tokens[1]);
    expect(server.connections[1].query.get('offset')).toBe('1');
    expect(delivered).toEqual([`${PERSONAL}#1`, `${PERSONAL}#2`]);
  });

  it('refreshes the token before it expires, and reconnects with the refreshed one', async () => {
    const tokens = [aToken({ expiresInSeconds: 2 }), aToken({ expiresInSeconds: 600 })];
    let issued = 0;
    const getToken = jest.fn(() => Promise.resolve(tokens[issued++]));
    const sut = connect({ token: undefined, getToken, tokenRefreshMarginMs: 1500 });
    await connected(sut);
    const refreshes = () => server.connections[0].received.filter((frame) => frame.event === 'refresh');

    const delivered = recordDeliveries(sut);
    await waitUntil(() => refreshes().length === 1, 'a refresh', 3000);
    server.publish(PERSONAL); // sent after `refreshed`: once delivered, the answer was handled
    await waitUntil(() => delivered.length === 1, 'a notification after the refresh');
    server.closeAll(4009);
    await nextEvent(sut, 'connected');

    expect(refreshes()[0].data).toEqual({ token: tokens[1] });
    expect(server.connections[1].query.get('access_token')).toBe(tokens[1]);
    expect(getToken).toHaveBeenCalledTimes(2);
  });

  it('pings every heartbeatMs and drops a silent connection after two intervals, then recovers', async () => {
    server.heartbeatMs = 50;
    const sut = connect();
    await connected(sut);
    await waitUntil(() => server.connections[0].received.some((frame) => frame.event === 'ping'), 'a ping');
    server.publish(PERSONAL);
    await waitUntil(() => sut.positions[PERSONAL]?.offset === 1, 'a notification');

    server.connections[0].silent = true;

    await expect(nextEvent(sut, 'disconnected')).resolves.toMatchObject({ reason: 'heartbeat timeout' });
    await nextEvent(sut, 'connected');
    expect(server.connections[1].query.get('offset')).toBe('1');
  });

  it('after close(), does not reconnect', async () => {
    const sut = connect();
    await connected(sut);

    sut.close();
    await sleep(LONGER_THAN_ANY_BACKOFF_MS);

    expect(sut.state).toBe('closed');
    expect(server.connections).toHaveLength(1);
    expect(server.openConnections).toHaveLength(0);
  });
});
