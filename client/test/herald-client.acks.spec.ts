import { HeraldClient, type HeraldError } from '../src';
import type { NotificationData } from '../src/wire';
import { type FakeEventSource, fakeEventSourceClass } from './support/fake-event-source';
import { type FakeAnswer, fakeFetch, type RecordedRequest } from './support/fake-fetch';
import { aToken } from './support/fake-herald-server';
import { type FakeSocket, fakeWebSocketClass } from './support/fake-socket';
import { recordDeliveries, waitUntil } from './support/wait';

const PERSONAL = 'user:alice';
const EPOCH = 'e1';

function aNotification(offset: number, fields: Partial<NotificationData> = {}): NotificationData {
  return {
    id: `n-${offset}`,
    channel: PERSONAL,
    offset,
    epoch: EPOCH,
    type: 'test.event',
    payload: { offset },
    createdAt: new Date().toISOString(),
    ...fields,
  };
}

const inMs = (ms: number): string => new Date(Date.now() + ms).toISOString();

describe(`${HeraldClient.name} acks over WebSocket`, () => {
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

  async function connect(count = 1): Promise<FakeSocket> {
    await waitUntil(() => sockets.length === count, `socket ${count}`);
    const socket = sockets[count - 1];
    socket.accept();
    socket.serverSends('ready', {
      connectionId: `c${count}`,
      userId: 'alice',
      channels: [PERSONAL, 'broadcast'],
      heartbeatMs: 60_000,
    });
    if (count === 1) {
      socket.serverSends('subscribed', { channel: PERSONAL, offset: 0, epoch: EPOCH, recovered: false });
    } else {
      socket.serverSends('subscribed', { channel: PERSONAL, offset: 0, epoch: EPOCH, recovered: true });
    }
    socket.serverSends('subscribed', { channel: 'broadcast', offset: 0, epoch: 'b1', recovered: count > 1 });
    return socket;
  }

  const acked = (socket: FakeSocket): string[][] => socket.sentFrames('ack').map(({ ids }) => ids);

  it('acks the notifications it delivered in one frame, shortly after', async () => {
    const socket = await connect();
    for (const offset of [1, 2, 2, 3]) socket.serverSends('notification', aNotification(offset));
    // The same publish on broadcast too: one id, acked once per batch.
    socket.serverSends('notification', aNotification(1, { id: 'n-3', channel: 'broadcast', epoch: 'b1' }));
    expect(acked(socket)).toEqual([]);

    await waitUntil(() => acked(socket).length > 0, 'an ack frame');
    expect(acked(socket)).toEqual([['n-1', 'n-2', 'n-3']]);
    expect(delivered).toHaveLength(4);
  });

  it('sends an ack frame at once when 100 ids are waiting', async () => {
    const socket = await connect();
    for (let offset = 1; offset <= 101; offset++) socket.serverSends('notification', aNotification(offset));

    expect(acked(socket)).toHaveLength(1);
    expect(acked(socket)[0]).toHaveLength(100);
    await waitUntil(() => acked(socket).length === 2, 'the second ack frame');
    expect(acked(socket)[1]).toEqual(['n-101']);
  });

  it('drops an expired notification without acking it, and delivers the next one', async () => {
    const socket = await connect();
    socket.serverSends('notification', aNotification(1, { expiresAt: inMs(-1) }));
    socket.serverSends('notification', aNotification(2, { expiresAt: inMs(60_000) }));

    expect(delivered).toEqual([`${PERSONAL}#2`]);
    expect(sut.positions[PERSONAL]).toEqual({ offset: 2, epoch: EPOCH });
    await waitUntil(() => acked(socket).length > 0, 'an ack frame');
    expect(acked(socket)).toEqual([['n-2']]);
  });

  it('keeps the acks of a connection that closed and sends them after the next ready', async () => {
    const first = await connect();
    first.serverSends('notification', aNotification(1));
    first.serverCloses(1012, 'restart');

    const second = await connect(2);
    expect(acked(first)).toEqual([]);
    expect(acked(second)).toEqual([['n-1']]);
  });

  it('sends the waiting acks before closing', async () => {
    const socket = await connect();
    socket.serverSends('notification', aNotification(1));

    sut.close();

    expect(acked(socket)).toEqual([['n-1']]);
  });
});

describe(`${HeraldClient.name} acks over SSE`, () => {
  let sut: HeraldClient;
  let sources: FakeEventSource[];
  let requests: RecordedRequest[];
  let errors: HeraldError[];
  let answers: FakeAnswer[];
  const token = aToken();

  beforeEach(() => {
    const fakeSources = fakeEventSourceClass();
    sources = fakeSources.sources;
    answers = [];
    const fake = fakeFetch(() => answers.shift() ?? { status: 204 });
    requests = fake.requests;
    sut = new HeraldClient({
      url: 'https://herald.test/base/v1/sse',
      transport: 'sse',
      token,
      EventSource: fakeSources.EventSource,
      fetch: fake.fetch,
    });
    errors = [];
    sut.on('error', (error) => errors.push(error));
  });
  afterEach(() => sut.close());

  async function connect(): Promise<FakeEventSource> {
    await waitUntil(() => sources.length === 1, 'the stream');
    const source = sources[0];
    source.accept();
    source.serverSends('ready', { connectionId: 'c1', userId: 'alice', channels: [], heartbeatMs: 25_000 });
    source.serverSends('subscribed', { channel: PERSONAL, offset: 0, epoch: EPOCH, recovered: false }, 'i0');
    source.serverSends(
      'subscribed',
      { channel: 'broadcast', offset: 0, epoch: 'b1', recovered: false },
      'i0',
    );
    return source;
  }

  it('POSTs the ids to /v1/acks next to the stream URL, with the client token', async () => {
    const source = await connect();
    source.serverSends('notification', aNotification(1), 'i1');
    source.serverSends('notification', aNotification(2), 'i2');

    await waitUntil(() => requests.length > 0, 'POST /v1/acks');
    expect(requests).toEqual([
      {
        url: 'https://herald.test/base/v1/acks',
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: { ids: ['n-1', 'n-2'] },
        keepalive: true,
      },
    ]);
  });

  it('retries the same ids after a 503 or a network error', async () => {
    answers.push({ status: 503 }, new TypeError('network down'));
    const source = await connect();
    source.serverSends('notification', aNotification(1), 'i1');

    await waitUntil(() => requests.length === 3, 'two retries', 10_000);
    expect(requests.map((request) => request.body)).toEqual([
      { ids: ['n-1'] },
      { ids: ['n-1'] },
      { ids: ['n-1'] },
    ]);
    expect(errors).toEqual([]);
  }, 15_000);

  it('reports a refused POST as ack_failed and does not retry it', async () => {
    answers.push({ status: 400, body: { statusCode: 400, error: 'Bad Request', message: 'ids' } });
    const source = await connect();
    source.serverSends('notification', aNotification(1), 'i1');

    await waitUntil(() => errors.length > 0, 'an error event');
    expect(errors).toEqual([{ code: 'ack_failed', message: 'POST /v1/acks answered 400' }]);
    source.serverSends('notification', aNotification(2), 'i2');
    await waitUntil(() => requests.length === 2, 'the next POST');
    expect(requests[1].body).toEqual({ ids: ['n-2'] });
  });
});
