/**
 * bare: Herald's publish and delivery work on Fastify without Nest — a prototype for the instruction
 * counts of bench/callgrind (issue #14), not a product. It runs Herald's own built modules (dist/):
 * the configuration (loadConfig), the API-key check (ApiKeyGuard.authenticate, before the body is
 * read), the publish body's ajv schema (PublishNotificationDto.validate), the offline-field rules, the
 * target channels, the Redis engine (RedisBroker: the publish script in grouped calls, interest-based
 * SUBSCRIBE) and, per channel, Herald's ordering state machine (ChannelStream) and its pre-framed
 * WebSocket frame written to the TCP stream under `ws`. Left out: Nest (DI, router, guards, pipes,
 * interceptors, exception filter), metrics, request logging, rate limiting, idempotency, pushes,
 * recovery, heartbeats, client tokens (the user id is the `user` query parameter, as for the floor).
 *
 * Env: Herald's (PORT, REDIS_URL, API_KEYS, JWT_SECRET, ...). Exits when its parent's IPC channel closes.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import Fastify from 'fastify';
import { WebSocketServer } from 'ws';
import { repoRoot } from '../support/paths';

/** The parts of Herald's built modules this prototype calls (dist/ is CommonJS, compiled from src/). */
interface ChannelMessage {
  channel: string;
  offset: number;
  epoch: string;
  data: string;
}
interface ChannelPosition {
  offset: number;
  epoch: string;
}
interface HeraldConfig {
  port: number;
  redis: unknown;
  historySize: number;
  historyTtlSeconds: number;
  apiKeys: readonly unknown[];
}
interface Broker {
  publishMany(
    requests: readonly { draft: Record<string, unknown>; channels: readonly string[] }[],
  ): Promise<(ChannelPosition & { channel: string })[][]>;
  history(channel: string, after: number, limit: number): Promise<ChannelPosition>;
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): void;
  onMessage(listener: (message: ChannelMessage) => void): void;
}
interface Stream {
  markRead(): void;
  sync(position: ChannelPosition): ChannelMessage[];
  receive(message: ChannelMessage): ChannelMessage[];
}
interface PublishRequest {
  type: string;
  payload?: unknown;
  expiresAt?: string;
}

const load = createRequire(__filename);
const dist = (path: string): unknown => load(join(repoRoot, 'dist', path)) as unknown;
const { loadConfig } = dist('config/app-config.js') as {
  loadConfig: (env: Record<string, string | undefined>) => HeraldConfig;
};
const { ApiKeyGuard } = dist('auth/api-key.guard.js') as {
  ApiKeyGuard: new (config: HeraldConfig, reflector: undefined) => { authenticate(header: unknown): unknown };
};
const { PublishNotificationDto } = dist('publish/publish-notification.dto.js') as {
  PublishNotificationDto: { validate(body: Record<string, unknown>): PublishRequest | string[] };
};
const { targetChannels } = dist('publish/publish.service.js') as {
  targetChannels: (request: PublishRequest) => string[];
};
const { offlineFieldsProblem } = dist('push/offline-delivery.js') as {
  offlineFieldsProblem: (request: PublishRequest, now: number) => string | undefined;
};
const { connectRedisEngine } = dist('engine/redis-engine.js') as {
  connectRedisEngine: (
    topology: unknown,
    history: HeraldConfig,
    metrics: unknown,
  ) => Promise<{ broker: Broker }>;
};
const { ChannelStream } = dist('session/channel-stream.js') as {
  ChannelStream: new (maxHeld: number) => Stream;
};
const { notificationFrame } = dist('broker/notification-encoding.js') as {
  notificationFrame: (data: string) => string;
};
const { textFrame } = dist('gateway/ws-frame.js') as { textFrame: (text: string) => Buffer };

const config = loadConfig(process.env);
const guard = new ApiKeyGuard(config, undefined);
/** Only the engine's reconnect counters are touched outside a failure. */
const noMetrics = new Proxy({}, { get: () => ({ inc: () => undefined, set: () => undefined }) });

/** A channel this replica holds sockets on: its order, and the TCP streams under the sockets. */
interface ChannelState {
  stream: Stream;
  sockets: Set<Duplex>;
  ready: Promise<void>;
}

function badRequest(message: string): { statusCode: number; error: string; message: string } {
  return { statusCode: 400, error: 'Bad Request', message };
}

async function main(): Promise<void> {
  const { broker } = await connectRedisEngine(config.redis, config, noMetrics);
  const channels = new Map<string, ChannelState>();

  broker.onMessage((message) => {
    const state = channels.get(message.channel);
    if (!state) return;
    for (const ready of state.stream.receive(message)) {
      const frame = textFrame(notificationFrame(ready.data));
      for (const socket of state.sockets) socket.write(frame);
    }
  });

  const join = (channel: string, socket: Duplex): Promise<void> => {
    let state = channels.get(channel);
    if (!state) {
      const created: ChannelState = {
        stream: new ChannelStream(config.historySize),
        sockets: new Set(),
        ready: Promise.resolve(),
      };
      created.ready = broker.subscribe(channel).then(async () => {
        created.stream.markRead();
        created.stream.sync(await broker.history(channel, Number.MAX_SAFE_INTEGER, 0));
      });
      channels.set(channel, created);
      state = created;
    }
    state.sockets.add(socket);
    return state.ready;
  };

  const leave = (channel: string, socket: Duplex): void => {
    const state = channels.get(channel);
    if (!state?.sockets.delete(socket) || state.sockets.size > 0) return;
    channels.delete(channel);
    broker.unsubscribe(channel);
  };

  const app = Fastify({ bodyLimit: 4 * 1024 * 1024 });
  app.addHook('onRequest', (request, reply, done) => {
    if (request.method !== 'POST' || guard.authenticate(request.headers.authorization)) return done();
    void reply
      .code(401)
      .send({ statusCode: 401, error: 'Unauthorized', message: 'missing or invalid API key' });
  });
  app.get('/health/ready', () => ({ status: 'ok' }));
  app.post('/v1/notifications', async (request, reply) => {
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      return reply.code(400).send(badRequest('the body must be a JSON object'));
    const checked = PublishNotificationDto.validate(body as Record<string, unknown>);
    if (Array.isArray(checked)) return reply.code(400).send(badRequest(checked.join('; ')));
    const problem = offlineFieldsProblem(checked, Date.now());
    if (problem) return reply.code(400).send(badRequest(problem));
    let targets: string[];
    try {
      targets = targetChannels(checked);
    } catch {
      return reply.code(400).send(badRequest('no target'));
    }
    const draft = {
      id: randomUUID(),
      type: checked.type,
      payload: checked.payload ?? null,
      createdAt: new Date().toISOString(),
      ...(checked.expiresAt === undefined ? {} : { expiresAt: new Date(checked.expiresAt).toISOString() }),
    };
    const [deliveries] = await broker.publishMany([{ draft, channels: targets }]);
    return reply.code(202).send({ id: draft.id, deliveries });
  });

  const wss = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false });
  app.server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const userId = url.searchParams.get('user');
    if (url.pathname !== '/v1/ws' || !userId) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const channel = `user:${userId}`;
      ws.on('error', () => ws.terminate());
      ws.on('close', () => leave(channel, socket));
      join(channel, socket).then(
        () =>
          ws.send(
            JSON.stringify({
              event: 'ready',
              data: { connectionId: randomUUID(), userId, channels: [channel], heartbeatMs: 0 },
            }),
          ),
        () => ws.close(1011, 'engine unavailable'),
      );
    });
  });

  await app.listen({ port: config.port, host: '127.0.0.1' });
}

main().catch((error: Error) => {
  process.stderr.write(`bare-herald failed to start: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
