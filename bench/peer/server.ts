/**
 * The peer: what a Node team writes today for the same job. Socket.IO 4 with the classic
 * @socket.io/redis-adapter (every message is published to every replica, which drops those for rooms
 * it does not hold), one room per user (`user:<id>`), topic rooms (`topic:<name>`) joined on request,
 * a JWT checked in a middleware, and Herald's publish endpoints on plain node:http (no framework,
 * which flatters the peer). Publishing answers 202 as soon as the message is handed to the adapter.
 *
 * On a Redis Cluster (REDIS_CLUSTER_NODES) it uses what the adapter's authors offer for one: the
 * sharded adapter (`createShardedAdapter`, SPUBLISH/SSUBSCRIBE, one channel per room in its default
 * "dynamic" mode) on an ioredis Cluster with `shardedSubscribers: true` (one subscriber per master).
 *
 * Env: PORT, REDIS_URL or REDIS_CLUSTER_NODES (`host:port,…`), JWT_SECRET, API_KEY, PING_INTERVAL_MS
 * (Socket.IO's heartbeat, default 25 s as Herald's). Exits when its parent's IPC channel closes.
 */
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import Redis, { Cluster } from 'ioredis';
import jwt from 'jsonwebtoken';
import { Server } from 'socket.io';
import { NotificationFactory } from '../support/notification';
import { createPublishServer, requiredEnv } from '../support/publish-server';

const port = Number(requiredEnv('PORT'));
const jwtSecret = requiredEnv('JWT_SECRET');
const factory = new NotificationFactory();

/** The adapter on the engine given, with its two Redis clients (publishing, subscribing). */
function adapterOnEngine(): {
  clients: Array<Redis | Cluster>;
  adapter: ReturnType<typeof createAdapter> | ReturnType<typeof createShardedAdapter>;
} {
  const seeds = process.env.REDIS_CLUSTER_NODES;
  if (seeds) {
    const nodes = seeds.split(',').map((seed) => {
      const [host, nodePort] = seed.split(':');
      return { host, port: Number(nodePort) };
    });
    const pub = new Cluster(nodes, { shardedSubscribers: true });
    const sub = pub.duplicate();
    return { clients: [pub, sub], adapter: createShardedAdapter(pub, sub) };
  }
  const pub = new Redis(requiredEnv('REDIS_URL'));
  const sub = pub.duplicate();
  return { clients: [pub, sub], adapter: createAdapter(pub, sub) };
}

const { clients, adapter } = adapterOnEngine();
for (const client of clients) {
  client.on('error', (err: Error) => process.stderr.write(`redis: ${err.message}\n`));
}

interface SocketData {
  userId: string;
  topics: string[];
}
interface ClientEvents {
  subscribe(msg: { channel?: unknown }): void;
}
interface ServerEvents {
  ready(data: { connectionId: string; userId: string; channels: string[]; heartbeatMs: number }): void;
  subscribed(data: { channel: string; offset: number; epoch: string; recovered: boolean }): void;
  error(data: { code: string; message: string; channel?: string }): void;
  notification(data: unknown): void;
}

/** Herald's token rule: an exact topic name, a prefix ending in `*`, or `*`. */
function topicAllowed(patterns: string[], name: string): boolean {
  return patterns.some((p) => p === name || (p.endsWith('*') && name.startsWith(p.slice(0, -1))));
}

const httpServer = createPublishServer({
  apiKey: requiredEnv('API_KEY'),
  validate: true,
  ready: () => clients.every((client) => client.status === 'ready'),
  publish(body) {
    const { notifications, response } = factory.make(body);
    for (const n of notifications) io.to(n.channel).emit('notification', n);
    return response;
  },
});

const io = new Server<ClientEvents, ServerEvents, Record<string, never>, SocketData>(httpServer, {
  transports: ['websocket'],
  serveClient: false,
  pingInterval: Number(process.env.PING_INTERVAL_MS ?? 25_000),
  adapter,
});

io.use((socket, next) => {
  try {
    const token = (socket.handshake.auth as { token?: unknown }).token;
    if (typeof token !== 'string') throw new Error('no token');
    const claims = jwt.verify(token, jwtSecret, { algorithms: ['HS256'] });
    if (typeof claims === 'string' || typeof claims.sub !== 'string') throw new Error('no sub');
    const topics: unknown = claims.topics;
    socket.data.userId = claims.sub;
    socket.data.topics = Array.isArray(topics)
      ? topics.filter((t): t is string => typeof t === 'string')
      : [];
    next();
  } catch {
    next(new Error('unauthorized'));
  }
});

io.on('connection', (socket) => {
  const { userId, topics } = socket.data;
  const personal = `user:${userId}`;
  void socket.join(personal);
  socket.emit('ready', { connectionId: socket.id, userId, channels: [personal], heartbeatMs: 25_000 });
  socket.on('subscribe', (msg) => {
    const channel = typeof msg?.channel === 'string' ? msg.channel : '';
    if (!channel.startsWith('topic:') || !topicAllowed(topics, channel.slice('topic:'.length))) {
      socket.emit('error', { code: 'forbidden', message: 'channel not allowed', channel });
      return;
    }
    void socket.join(channel);
    socket.emit('subscribed', { channel, offset: 0, epoch: '', recovered: false });
  });
});

httpServer.listen(port, '127.0.0.1');
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
