import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { Disconnect } from '../common/close-codes';
import { OutgoingNotification } from '../session/transport';
import { WebSocketTransport } from './websocket.transport';

/** A real WebSocket pair on loopback: the server side as a transport, the client side recording frames. */
async function aPair(): Promise<{
  sut: WebSocketTransport;
  client: WebSocket;
  frames: string[];
  close: () => Promise<void>;
}> {
  const wss = new WebSocketServer({ noServer: true });
  const server: Server = createServer();
  let accepted: ((transport: WebSocketTransport) => void) | undefined;
  const transport = new Promise<WebSocketTransport>((resolve) => (accepted = resolve));
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    wss.handleUpgrade(request, socket, head, (ws) => accepted?.(new WebSocketTransport(ws, socket)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  const frames: string[] = [];
  client.on('message', (data: Buffer) => frames.push(data.toString()));
  await new Promise((resolve) => client.once('open', resolve));
  return {
    sut: await transport,
    client,
    frames,
    close: async () => {
      client.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const until = async (check: () => boolean, what: string) => {
  const deadline = Date.now() + 2000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

const aMessage = (offset: number, data = `{"id":"n${offset}","offset":${offset}}`) => ({
  channel: 'user:alice',
  offset,
  epoch: 'EpochAAA',
  data,
});

describe(WebSocketTransport.name, () => {
  const pairs: Awaited<ReturnType<typeof aPair>>[] = [];
  afterEach(async () => {
    await Promise.all(pairs.splice(0).map((pair) => pair.close()));
  });
  const open = async () => {
    const pair = await aPair();
    pairs.push(pair);
    return pair;
  };

  it('writes control events and notifications as {event, data} text frames, a notification framed once', async () => {
    const [one, two] = [await open(), await open()];
    one.sut.send('pong', {});
    const notification = new OutgoingNotification(aMessage(1));
    one.sut.writeNotification(notification);
    const frame = notification.websocket;
    two.sut.writeNotification(notification);
    expect(notification.websocket).toBe(frame);
    await until(() => one.frames.length === 2 && two.frames.length === 1, 'the frames');
    expect(one.frames).toEqual([
      '{"event":"pong","data":{}}',
      '{"event":"notification","data":{"id":"n1","offset":1}}',
    ]);
    expect(two.frames).toEqual([one.frames[1]]);
  });

  it('reports a full buffer, and when it has drained', async () => {
    const { sut, client, frames } = await open();
    // A paused client: the kernel buffers fill, then the stream reports backpressure.
    (client as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const big = `{"id":"big","payload":"${'x'.repeat(64 * 1024)}"}`;
    let written = 0;
    while (sut.writeNotification(new OutgoingNotification(aMessage(++written, big)))) {
      if (written > 10_000) throw new Error('never reported backpressure');
    }
    expect(sut.bufferedBytes).toBeGreaterThan(0);
    const drained = sut.whenWritable();
    (client as unknown as { _socket: { resume(): void } })._socket.resume();
    await drained;
    await until(() => frames.length === written, 'every frame');
  });

  it('closes with the disconnect’s code, then writes nothing more', async () => {
    const { sut, client } = await open();
    const closed = new Promise<number>((resolve) => client.once('close', resolve));
    sut.close(Disconnect.SlowConsumer);
    expect(await closed).toBe(4008);
    await until(() => !sut.isOpen, 'the transport to close');
    expect(sut.send('pong', {})).toBe(false);
  });
});
