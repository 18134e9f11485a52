/**
 * The floor: the cost floor of Node + Redis for this job on this machine. A bare `ws` server and
 * ioredis: a Redis SUBSCRIBE per channel on its first local connection and UNSUBSCRIBE after its
 * last; a message from Redis is already the whole frame and goes out as is, with no parsing. No auth
 * (the user id is the `user` query parameter), no history, no validation, no heartbeat. Frames have
 * Herald's shape (`ready`, `subscribed`, `notification`), so the bench's Herald client speaks to it.
 *
 * Env: PORT, REDIS_URL. Exits when its parent's IPC channel closes.
 */
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import WebSocket, { WebSocketServer } from 'ws';
import { NotificationFactory } from '../support/notification';
import { createPublishServer, requiredEnv } from '../support/publish-server';

const port = Number(requiredEnv('PORT'));
const pub = new Redis(requiredEnv('REDIS_URL'));
const sub = pub.duplicate();
const factory = new NotificationFactory();

/** The local connections on one channel, and the Redis SUBSCRIBE that carries it to this process. */
interface Interest {
  sockets: Set<WebSocket>;
  subscribed: Promise<unknown>;
}
const interests = new Map<string, Interest>();

function join(ws: WebSocket, channel: string): Promise<unknown> {
  let interest = interests.get(channel);
  if (!interest) {
    interest = { sockets: new Set(), subscribed: sub.subscribe(channel) };
    interests.set(channel, interest);
  }
  interest.sockets.add(ws);
  return interest.subscribed;
}

function leave(ws: WebSocket, channel: string): void {
  const interest = interests.get(channel);
  if (!interest?.sockets.delete(ws) || interest.sockets.size > 0) return;
  interests.delete(channel);
  void sub.unsubscribe(channel);
}

sub.on('messageBuffer', (channel: Buffer, frame: Buffer) => {
  const interest = interests.get(channel.toString());
  if (interest) for (const ws of interest.sockets) ws.send(frame, { binary: false });
});

const server = createPublishServer({
  validate: false,
  ready: () => pub.status === 'ready' && sub.status === 'ready',
  async publish(body) {
    const { notifications, response } = factory.make(body);
    await Promise.all(
      notifications.map((n) => pub.publish(n.channel, JSON.stringify({ event: 'notification', data: n }))),
    );
    return response;
  },
});

const wss = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false });

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const userId = url.searchParams.get('user');
  if (url.pathname !== '/v1/ws' || !userId) {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, userId));
});

function onConnection(ws: WebSocket, userId: string): void {
  const channels = new Set([`user:${userId}`]);
  ws.on('error', () => ws.terminate());
  ws.on('close', () => channels.forEach((c) => leave(ws, c)));
  ws.on('message', (data) => {
    let msg: { event?: string; data?: { channel?: string } };
    try {
      msg = JSON.parse((data as Buffer).toString('utf8')) as typeof msg;
    } catch {
      return;
    }
    const channel = msg.data?.channel;
    if (msg.event !== 'subscribe' || typeof channel !== 'string') return;
    channels.add(channel);
    void join(ws, channel).then(() =>
      ws.send(
        JSON.stringify({ event: 'subscribed', data: { channel, offset: 0, epoch: '', recovered: false } }),
      ),
    );
  });
  void join(ws, `user:${userId}`).then(() =>
    ws.send(
      JSON.stringify({
        event: 'ready',
        data: { connectionId: randomUUID(), userId, channels: [...channels], heartbeatMs: 0 },
      }),
    ),
  );
}

server.listen(port, '127.0.0.1');
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
