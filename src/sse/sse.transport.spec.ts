import jwt from 'jsonwebtoken';
import { createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClientTokenVerifier } from '../auth/client-token';
import { Disconnect } from '../common/close-codes';
import { loadConfig } from '../config/app-config';
import { Membership } from '../session/membership';
import { Session } from '../session/session';
import { OutgoingNotification } from '../session/transport';
import { channelTag, decodeEventId } from './sse-event-id';
import { SSE_RETRY_MS, SseTransport } from './sse.transport';

const secret = 'unit-test-secret-0123456789abcdef';
const config = loadConfig({ JWT_SECRET: secret });
const identity = new ClientTokenVerifier(config).verify(
  jwt.sign({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 60 }, secret),
);

/** A real HTTP response on loopback, and what its client has read so far. */
async function aStream(): Promise<{
  response: ServerResponse;
  read: () => string;
  ended: Promise<void>;
  close: () => Promise<void>;
}> {
  let response: ServerResponse | undefined;
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    response = res;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  let text = '';
  let ended!: () => void;
  const endedPromise = new Promise<void>((resolve) => (ended = resolve));
  const req = request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (text += chunk));
    res.on('end', ended);
  });
  req.end();
  while (!response) await new Promise((resolve) => setTimeout(resolve, 5));
  return {
    response,
    read: () => text,
    ended: endedPromise,
    close: async () => {
      req.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const readUntil = async (read: () => string, pattern: RegExp): Promise<string> => {
  const deadline = Date.now() + 2000;
  while (!pattern.test(read())) {
    if (Date.now() > deadline) throw new Error(`no ${String(pattern)} in ${JSON.stringify(read())}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return read();
};

const aMessage = (offset: number) => ({
  channel: 'user:alice',
  offset,
  epoch: 'EpochAAA',
  data: `{"id":"n${offset}","channel":"user:alice","offset":${offset},"epoch":"EpochAAA"}`,
});

describe(SseTransport.name, () => {
  const streams: Awaited<ReturnType<typeof aStream>>[] = [];
  afterEach(async () => {
    await Promise.all(streams.splice(0).map((stream) => stream.close()));
  });
  const open = async () => {
    const stream = await aStream();
    streams.push(stream);
    const sut = new SseTransport(stream.response);
    const session = new Session('s1', sut, await identity, 1 << 20);
    return { stream, sut, session };
  };

  it('starts with a retry line, then writes events as `event:` and one `data:` line', async () => {
    const { stream, session } = await open();
    session.send('ready', {
      connectionId: 's1',
      userId: 'alice',
      channels: ['user:alice', 'broadcast'],
      heartbeatMs: 1,
    });
    const text = await readUntil(stream.read, /event: ready\n/);
    expect(text).toBe(
      `retry: ${SSE_RETRY_MS}\n\nevent: ready\ndata: {"connectionId":"s1","userId":"alice","channels":["user:alice","broadcast"],"heartbeatMs":1}\n\n`,
    );
  });

  it('gives a notification an id naming the stream position on every channel, and encodes its lines once', async () => {
    const [one, two] = [await open(), await open()];
    for (const { session } of [one, two]) {
      const membership = new Membership(session, 'user:alice');
      session.addMembership(membership);
      membership.goLive({ offset: 7, epoch: 'EpochAAA' });
    }
    const notification = new OutgoingNotification(aMessage(7));
    one.session.write(notification);
    const encoded = notification.sse;
    two.session.write(notification);
    expect(notification.sse).toBe(encoded);
    const text = await readUntil(one.stream.read, /event: notification\n.*\n\n$/);
    const [, id] = /id: (\S+)\nevent: notification\ndata: \{"id":"n7"/.exec(text) ?? [];
    expect(decodeEventId(id)?.get(channelTag('user:alice'))).toEqual({ offset: 7, epoch: 'EpochAAA' });
    await readUntil(two.stream.read, /event: notification/);
  });

  it('puts the answered position in the id of a plain subscribed', async () => {
    const { stream, session } = await open();
    session.addMembership(new Membership(session, 'user:alice'));
    session.send('subscribed', { channel: 'user:alice', offset: 3, epoch: 'EpochBBB', recovered: false });
    const text = await readUntil(stream.read, /event: subscribed/);
    const [, id] = /id: (\S+)\nevent: subscribed/.exec(text) ?? [];
    expect(decodeEventId(id)?.get(channelTag('user:alice'))).toEqual({ offset: 3, epoch: 'EpochBBB' });
  });

  it('ends with an error event on token expiry, and plainly on drain', async () => {
    const expiring = await open();
    expiring.session.close(Disconnect.TokenExpired);
    await expiring.stream.ended;
    expect(expiring.stream.read()).toMatch(
      /event: error\ndata: \{"code":"token_expired","message":"token expired"\}\n\n$/,
    );
    expect(expiring.sut.isOpen).toBe(false);

    const drained = await open();
    drained.session.close(Disconnect.ServiceRestart);
    await drained.stream.ended;
    expect(drained.stream.read()).toBe(`retry: ${SSE_RETRY_MS}\n\n`);
  });

  it('keeps the stream alive with comment lines', async () => {
    const { stream, sut } = await open();
    sut.ping();
    expect(await readUntil(stream.read, /: ping\n\n/)).toContain(': ping\n\n');
  });
});
