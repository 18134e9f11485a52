import { HeraldClient, type HeraldClientOptions } from '../src';
import type { NotificationData } from '../src/wire';
import { type FakeEventSource, fakeEventSourceClass } from './support/fake-event-source';
import { aToken } from './support/fake-herald-server';
import { nextEvent, recordDeliveries, waitUntil } from './support/wait';

const PERSONAL = 'user:alice';
const EPOCH = 'e1';
const TOPIC = 'topic:orders.42';

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

/** Stands in for the server's opaque event id: the personal channel's offset, enough to tell ids apart. */
const anId = (offset: number): string => `id-${offset}`;

describe(`${HeraldClient.name} over SSE`, () => {
  let sut: HeraldClient;
  let sources: FakeEventSource[];
  let delivered: string[];

  function createSut(options: Partial<HeraldClientOptions> = { token: 'opaque-token' }): void {
    const fake = fakeEventSourceClass();
    sources = fake.sources;
    sut = new HeraldClient({
      url: 'https://herald.test/v1/sse',
      transport: 'sse',
      EventSource: fake.EventSource,
      reconnectBackoff: { baseMs: 1, capMs: 1 },
      ...options,
    });
    delivered = recordDeliveries(sut);
  }

  afterEach(() => sut.close());

  /** Plays the server opening stream number `count` (from 1) with `ready`. */
  async function acceptAndReady(count: number, connectionId = `c${count}`): Promise<FakeEventSource> {
    await waitUntil(() => sources.length === count, `stream ${count}`);
    const source = sources[count - 1];
    source.accept();
    source.serverSends('ready', {
      connectionId,
      userId: 'alice',
      channels: [PERSONAL, 'broadcast'],
      heartbeatMs: 25_000,
    });
    return source;
  }

  /** The first stream caught up: personal channel at 0 in EPOCH, broadcast at 0. */
  async function connect(): Promise<FakeEventSource> {
    const source = await acceptAndReady(1);
    source.serverSends(
      'subscribed',
      { channel: PERSONAL, offset: 0, epoch: EPOCH, recovered: false },
      anId(0),
    );
    source.serverSends(
      'subscribed',
      { channel: 'broadcast', offset: 0, epoch: 'b1', recovered: false },
      anId(0),
    );
    return source;
  }

  it('opens a stream with the token, learns each channel from subscribed and delivers notifications in order', async () => {
    createSut();
    const source = await connect();

    expect(source.url).toBe('https://herald.test/v1/sse?access_token=opaque-token');
    expect(sut.state).toBe('connected');
    for (const offset of [1, 2, 2, 3])
      source.serverSends('notification', aNotification(offset), anId(offset));

    expect(delivered).toEqual([1, 2, 3].map((offset) => `${PERSONAL}#${offset}`));
    expect(sut.positions).toEqual({
      [PERSONAL]: { offset: 3, epoch: EPOCH },
      broadcast: { offset: 0, epoch: 'b1' },
    });
  });

  it('on subscribe and unsubscribe opens a new stream with the topics and the last event id', async () => {
    createSut();
    const first = await connect();
    first.serverSends('notification', aNotification(1), anId(1));

    sut.subscribe(TOPIC);
    sut.subscribe('topic:news');

    expect(first.readyState).toBe(2);
    const second = await acceptAndReady(2);
    expect(sources).toHaveLength(2);
    expect(second.query.get('topics')).toBe('orders.42,news');
    expect(second.query.get('lastEventId')).toBe(anId(1));
    expect(sut.state).toBe('recovering');
    second.serverSends(
      'subscribed',
      { channel: PERSONAL, offset: 1, epoch: EPOCH, recovered: true },
      anId(1),
    );
    second.serverSends(
      'subscribed',
      { channel: 'broadcast', offset: 0, epoch: 'b1', recovered: true },
      anId(1),
    );
    second.serverSends('subscribed', { channel: TOPIC, offset: 7, epoch: 't1', recovered: false }, anId(1));
    second.serverSends(
      'subscribed',
      { channel: 'topic:news', offset: 0, epoch: 't2', recovered: false },
      anId(2),
    );
    expect(sut.state).toBe('connected');
    second.serverSends('notification', aNotification(8, { channel: TOPIC, epoch: 't1' }), anId(3));

    sut.unsubscribe('topic:news');

    const third = await acceptAndReady(3);
    expect(third.query.get('topics')).toBe('orders.42');
    expect(third.query.get('lastEventId')).toBe(anId(3));
    expect(delivered).toEqual([`${PERSONAL}#1`, `${TOPIC}#8`]);
  });

  it('after EventSource reconnects by itself, drops the replayed duplicates and delivers what follows', async () => {
    createSut();
    const source = await connect();
    for (const offset of [1, 2]) source.serverSends('notification', aNotification(offset), anId(offset));
    const disconnected = nextEvent(sut, 'disconnected');

    source.serverEnds();

    await expect(disconnected).resolves.toEqual({ code: 1006, reason: 'stream ended', willReconnect: true });
    expect(sut.state).toBe('connecting');
    expect(source.reconnectLastEventId).toBe(anId(2));
    const connected = nextEvent(sut, 'connected');
    source.accept();
    source.serverSends('ready', { connectionId: 'c2', userId: 'alice', channels: [], heartbeatMs: 25_000 });
    source.serverSends(
      'subscribed',
      { channel: PERSONAL, offset: 1, epoch: EPOCH, recovered: true },
      anId(1),
    );
    source.serverSends(
      'subscribed',
      { channel: 'broadcast', offset: 0, epoch: 'b1', recovered: true },
      anId(1),
    );
    for (const offset of [2, 3]) source.serverSends('notification', aNotification(offset), anId(offset));

    await expect(connected).resolves.toEqual({ connectionId: 'c2', userId: 'alice' });
    expect(sources).toHaveLength(1);
    expect(delivered).toEqual([1, 2, 3].map((offset) => `${PERSONAL}#${offset}`));
  });

  it('on a gap opens a new stream from the last event id before it, whose replay fills the gap', async () => {
    createSut();
    const first = await connect();
    first.serverSends('notification', aNotification(1), anId(1));

    first.serverSends('notification', aNotification(3), anId(3));
    first.serverSends('notification', aNotification(4), anId(4));

    expect(delivered).toEqual([`${PERSONAL}#1`]);
    expect(first.readyState).toBe(2);
    const second = await acceptAndReady(2);
    expect(second.query.get('lastEventId')).toBe(anId(1));
    second.serverSends(
      'subscribed',
      { channel: PERSONAL, offset: 1, epoch: EPOCH, recovered: true },
      anId(1),
    );
    second.serverSends(
      'subscribed',
      { channel: 'broadcast', offset: 0, epoch: 'b1', recovered: true },
      anId(1),
    );
    for (const offset of [2, 3, 4]) second.serverSends('notification', aNotification(offset), anId(offset));

    expect(delivered).toEqual([1, 2, 3, 4].map((offset) => `${PERSONAL}#${offset}`));
    expect(sut.state).toBe('connected');
  });

  it('emits unrecovered and takes the server position when a channel is not recovered', async () => {
    createSut();
    const source = await connect();
    source.serverSends('notification', aNotification(1, { channel: 'broadcast', epoch: 'b1' }), anId(1));
    const unrecovered = jest.fn();
    sut.on('unrecovered', unrecovered);
    source.serverEnds();

    source.accept();
    source.serverSends('ready', { connectionId: 'c2', userId: 'alice', channels: [], heartbeatMs: 25_000 });
    source.serverSends(
      'subscribed',
      { channel: PERSONAL, offset: 0, epoch: EPOCH, recovered: true },
      anId(2),
    );
    source.serverSends(
      'subscribed',
      { channel: 'broadcast', offset: 9, epoch: 'b2', recovered: false },
      anId(3),
    );

    expect(unrecovered.mock.calls).toEqual([[{ channel: 'broadcast' }]]);
    expect(sut.positions.broadcast).toEqual({ offset: 9, epoch: 'b2' });
    expect(sut.state).toBe('connected');
  });

  it('on the token_expired error event gets a new token and reopens from the last event id', async () => {
    const tokens = [aToken({ expiresInSeconds: 600 }), aToken({ sub: 'alice', expiresInSeconds: 900 })];
    const getToken = jest
      .fn<Promise<string>, []>()
      .mockResolvedValueOnce(tokens[0])
      .mockResolvedValue(tokens[1]);
    createSut({ getToken });
    const first = await connect();
    first.serverSends('notification', aNotification(1), anId(1));

    first.serverSendsError({ code: 'token_expired', message: 'token expired' });

    expect(first.readyState).toBe(2);
    const second = await acceptAndReady(2);
    expect(getToken).toHaveBeenCalledTimes(2);
    expect(second.query.get('access_token')).toBe(tokens[1]);
    expect(second.query.get('lastEventId')).toBe(anId(1));
  });

  it('before the token expires gets a new one and reopens the stream with it', async () => {
    const tokens = [aToken({ expiresInSeconds: 2 }), aToken({ expiresInSeconds: 600 })];
    const getToken = jest
      .fn<Promise<string>, []>()
      .mockResolvedValueOnce(tokens[0])
      .mockResolvedValue(tokens[1]);
    createSut({ getToken });
    const first = await connect();
    first.serverSends('notification', aNotification(1), anId(1));

    const second = await acceptAndReady(2);

    expect(first.readyState).toBe(2);
    expect(second.query.get('access_token')).toBe(tokens[1]);
    expect(second.query.get('lastEventId')).toBe(anId(1));
  });

  it('on a refused stream whose status is hidden (a browser) assumes the token and gets a new one', async () => {
    const getToken = jest.fn(() => Promise.resolve(aToken({ expiresInSeconds: 600 })));
    createSut({ getToken });
    await waitUntil(() => sources.length === 1, 'the first stream');

    sources[0].refuse();

    await waitUntil(() => sources.length === 2, 'a second stream');
    expect(getToken).toHaveBeenCalledTimes(2);
  });

  it('reports a visible 403 as stream_refused, and gives up on a 401 for a token fresh from getToken', async () => {
    createSut({ getToken: () => Promise.resolve(aToken()) });
    await waitUntil(() => sources.length === 1, 'the first stream');
    const refused = nextEvent(sut, 'error');
    sources[0].refuse(403);
    await expect(refused).resolves.toMatchObject({ code: 'stream_refused' });

    await waitUntil(() => sources.length === 2, 'a retry');
    sources[1].refuse(401); // the token it had: the SDK gets a new one
    await waitUntil(() => sources.length === 3, 'a retry with a new token');
    const unauthorized = nextEvent(sut, 'error');
    sources[2].refuse(401);

    await expect(unauthorized).resolves.toMatchObject({ code: 'unauthorized' });
    expect(sut.state).toBe('closed');
  });

  it('drops a stream that sends no ready in time and opens another', async () => {
    createSut({ token: 'opaque-token', connectTimeoutMs: 20 });
    await waitUntil(() => sources.length === 1, 'the first stream');
    sources[0].accept();

    await waitUntil(() => sources.length === 2, 'a second stream');
    expect(sources[0].readyState).toBe(2);
  });

  it('closes the stream for good on close()', async () => {
    createSut();
    const source = await connect();

    sut.close();

    expect(source.readyState).toBe(2);
    expect(sut.state).toBe('closed');
  });
});
