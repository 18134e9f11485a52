import { HeraldClient } from '../src';
import type { NotificationData } from '../src/wire';
import { type FakeSocket, fakeWebSocketClass } from './support/fake-socket';
import { aToken } from './support/fake-herald-server';
import { nextEvent, recordDeliveries, waitUntil } from './support/wait';

async function flushMicrotasks(): Promise<void> {
  for (let turn = 0; turn < 10; turn++) await Promise.resolve();
}

const PERSONAL = 'user:alice';
const EPOCH = 'e1';

function aNotification(offset: number, { channel = PERSONAL, epoch = EPOCH } = {}): NotificationData {
  return {
    id: `n-${channel}-${epoch}-${offset}`,
    channel,
    offset,
    epoch,
    type: 'test.event',
    payload: { offset },
    createdAt: new Date(0).toISOString(),
  };
}

describe(HeraldClient.name, () => {
  let sut: HeraldClient;
  let sockets: FakeSocket[];
  let delivered: string[];

  beforeEach(() => {
    const fake = fakeWebSocketClass();
    sockets = fake.sockets;
    sut = new HeraldClient({
      url: 'ws://herald.test/v1/ws',
      token: 'opaque-token',
      WebSocket: fake.WebSocket,
      reconnectBackoff: { baseMs: 1, capMs: 1 },
    });
    delivered = recordDeliveries(sut);
  });

  afterEach(() => sut.close());

  /** Plays the server accepting the socket and sending `ready`. */
  function acceptAndReady(socket: FakeSocket, connectionId: string): void {
    socket.accept();
    socket.serverSends('ready', {
      connectionId,
      userId: 'alice',
      channels: [PERSONAL, 'broadcast'],
      heartbeatMs: 60_000,
    });
  }

  /** Plays the server up to a caught-up first connection: personal channel at 0 in EPOCH, broadcast at 0. */
  async function connect(): Promise<FakeSocket> {
    await waitUntil(() => sockets.length === 1, 'the first socket');
    const socket = sockets[0];
    acceptAndReady(socket, 'c1');
    socket.serverSends('subscribed', { channel: PERSONAL, offset: 0, epoch: EPOCH, recovered: false });
    socket.serverSends('subscribed', { channel: 'broadcast', offset: 0, epoch: 'b1', recovered: false });
    return socket;
  }

  it('joins the personal and broadcast channels on the first connection to learn their positions', async () => {
    const socket = await connect();

    expect(socket.url).toBe('ws://herald.test/v1/ws?access_token=opaque-token');
    expect(socket.sentFrames('subscribe')).toEqual([{ channel: 'broadcast' }, { channel: PERSONAL }]);
    expect(sut.positions).toEqual({
      [PERSONAL]: { offset: 0, epoch: EPOCH },
      broadcast: { offset: 0, epoch: 'b1' },
    });
    expect(sut.state).toBe('connected');
  });

  it('delivers offset n+1 and drops duplicates silently', async () => {
    const socket = await connect();
    const unrecovered = jest.fn();
    sut.on('unrecovered', unrecovered);

    for (const offset of [1, 2, 2, 1, 3]) socket.serverSends('notification', aNotification(offset));

    expect(delivered).toEqual([`${PERSONAL}#1`, `${PERSONAL}#2`, `${PERSONAL}#3`]);
    expect(socket.sentFrames('subscribe')).toHaveLength(2);
    expect(unrecovered).not.toHaveBeenCalled();
  });

  it('on a gap (n → n+2) holds delivery and recovers from n, dropping the channel until its subscribed', async () => {
    const socket = await connect();
    socket.serverSends('notification', aNotification(1));

    socket.serverSends('notification', aNotification(3));
    socket.serverSends('notification', aNotification(4));

    expect(delivered).toEqual([`${PERSONAL}#1`]);
    expect(socket.sentFrames('subscribe').at(-1)).toEqual({ channel: PERSONAL, offset: 1, epoch: EPOCH });

    socket.serverSends('subscribed', { channel: PERSONAL, offset: 4, epoch: EPOCH, recovered: true });
    for (const offset of [2, 3, 4, 5]) socket.serverSends('notification', aNotification(offset));

    expect(delivered).toEqual([1, 2, 3, 4, 5].map((offset) => `${PERSONAL}#${offset}`));
    expect(sut.positions[PERSONAL]).toEqual({ offset: 5, epoch: EPOCH });
  });

  it('on a new epoch resets the position, delivers the notification and emits unrecovered', async () => {
    const socket = await connect();
    socket.serverSends('notification', aNotification(1));
    socket.serverSends('notification', aNotification(2));
    const unrecovered = nextEvent(sut, 'unrecovered');

    socket.serverSends('notification', aNotification(1, { epoch: 'e2' }));

    await expect(unrecovered).resolves.toEqual({ channel: PERSONAL });
    expect(delivered).toEqual([`${PERSONAL}#1`, `${PERSONAL}#2`, `${PERSONAL}#1`]);
    expect(sut.positions[PERSONAL]).toEqual({ offset: 1, epoch: 'e2' });
  });

  it('recovers every channel after a reconnect; subscribed with recovered:false resets and emits unrecovered', async () => {
    const socket = await connect();
    sut.subscribe('topic:orders.42');
    socket.serverSends('subscribed', {
      channel: 'topic:orders.42',
      offset: 7,
      epoch: 't1',
      recovered: false,
    });
    socket.serverSends('notification', aNotification(1));
    socket.serverSends('notification', aNotification(1, { channel: 'broadcast', epoch: 'b1' }));
    const unrecovered = jest.fn();
    sut.on('unrecovered', unrecovered);

    socket.serverCloses(4008, 'slow consumer');
    await waitUntil(() => sockets.length === 2, 'a reconnect');
    const again = sockets[1];
    acceptAndReady(again, 'c2');

    expect(new URL(again.url).searchParams.get('offset')).toBe('1');
    expect(new URL(again.url).searchParams.get('epoch')).toBe(EPOCH);
    expect(again.sentFrames('subscribe')).toEqual([
      { channel: 'broadcast', offset: 1, epoch: 'b1' },
      { channel: 'topic:orders.42', offset: 7, epoch: 't1' },
    ]);
    expect(sut.state).toBe('recovering');

    again.serverSends('subscribed', { channel: PERSONAL, offset: 1, epoch: EPOCH, recovered: true });
    again.serverSends('subscribed', { channel: 'broadcast', offset: 1, epoch: 'b1', recovered: true });
    again.serverSends('subscribed', { channel: 'topic:orders.42', offset: 3, epoch: 't2', recovered: false });

    expect(unrecovered.mock.calls).toEqual([[{ channel: 'topic:orders.42' }]]);
    expect(sut.positions['topic:orders.42']).toEqual({ offset: 3, epoch: 't2' });
    expect(sut.state).toBe('connected');
  });

  it('delivers a live notification that raced the join answer (at or below the joined position)', async () => {
    await waitUntil(() => sockets.length === 1, 'the first socket');
    const socket = sockets[0];
    acceptAndReady(socket, 'c1');
    socket.serverSends('subscribed', { channel: PERSONAL, offset: 5, epoch: EPOCH, recovered: false });

    socket.serverSends('notification', aNotification(5));
    socket.serverSends('notification', aNotification(5));
    socket.serverSends('notification', aNotification(6));

    expect(delivered).toEqual([`${PERSONAL}#5`, `${PERSONAL}#6`]);
  });

  it('keeps delivering when an app listener throws', async () => {
    const socket = await connect();
    const consoleError = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    sut.on('notification', () => {
      throw new Error('app bug');
    });

    socket.serverSends('notification', aNotification(1));
    socket.serverSends('notification', aNotification(2));

    expect(delivered).toEqual([`${PERSONAL}#1`, `${PERSONAL}#2`]);
    expect(consoleError).toHaveBeenCalledTimes(2);
    consoleError.mockRestore();
  });

  it('drops a refused topic from the subscriptions and reports the error frame', async () => {
    const socket = await connect();
    sut.subscribe('topic:secret');
    const error = nextEvent(sut, 'error');

    socket.serverSends('error', { code: 'forbidden', message: 'not allowed', channel: 'topic:secret' });

    await expect(error).resolves.toEqual({
      code: 'forbidden',
      message: 'not allowed',
      channel: 'topic:secret',
    });
    expect(sut.topics).toEqual([]);
  });

  it('clears every timer on close(), connected or waiting to reconnect', async () => {
    jest.useFakeTimers({ doNotFake: ['queueMicrotask', 'nextTick'] });
    try {
      const connectedFake = fakeWebSocketClass();
      const reconnectingFake = fakeWebSocketClass();
      const connectedClient = new HeraldClient({
        url: 'ws://herald.test/v1/ws',
        getToken: () => Promise.resolve(aToken({ expiresInSeconds: 600 })),
        WebSocket: connectedFake.WebSocket,
      });
      const reconnectingClient = new HeraldClient({
        url: 'ws://herald.test/v1/ws',
        token: 'opaque-token',
        WebSocket: reconnectingFake.WebSocket,
      });
      await flushMicrotasks();
      const [connectedSocket] = connectedFake.sockets;
      const [reconnectingSocket] = reconnectingFake.sockets;
      connectedSocket.accept();
      connectedSocket.serverSends('ready', {
        connectionId: 'c1',
        userId: 'alice',
        channels: [],
        heartbeatMs: 25_000,
      });
      reconnectingSocket.serverCloses(1006);
      expect(jest.getTimerCount()).toBe(3); // heartbeat, token refresh; reconnect

      connectedClient.close();
      reconnectingClient.close();

      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('stops for good on close(): no reconnect after the socket closes', async () => {
    const socket = await connect();

    sut.close();
    socket.serverCloses(1012);
    // A real-time effect that must not happen: 20 ms is 20 of this client's 1 ms backoff delays.
    await new Promise((resolve) => setTimeout(resolve, 20));

    expect(sut.state).toBe('closed');
    expect(sockets).toHaveLength(1);
  });
});
