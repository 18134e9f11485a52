import { randomUUID } from 'crypto';
import type { IncomingMessage } from 'http';
import type { AddressInfo } from 'net';
import jwt from 'jsonwebtoken';
import { WebSocket, WebSocketServer } from 'ws';
import type { ClientEvents, NotificationData, ServerEvents } from '../../src/wire';

export const TEST_JWT_SECRET = 'herald-client-test-secret';

export function aToken({
  sub = 'alice',
  topics = ['*'],
  expiresInSeconds = 3600,
}: { sub?: string; topics?: string[]; expiresInSeconds?: number } = {}): string {
  return jwt.sign({ sub, topics }, TEST_JWT_SECRET, { expiresIn: expiresInSeconds });
}

interface Claims {
  sub: string;
  topics: string[];
  exp: number;
}

export interface FakeConnection {
  /** The handshake's query: `access_token`, and `offset`/`epoch` when the client recovers its personal channel. */
  readonly query: URLSearchParams;
  readonly userId: string;
  readonly channels: Set<string>;
  /** Every frame the client sent, in order. */
  readonly received: { event: string; data: Record<string, unknown> }[];
  /** The server goes quiet (sends and answers nothing), as over a dead network. */
  silent: boolean;
  closeWith(code: number, reason?: string): void;
}

interface ChannelHistory {
  epoch: string;
  notifications: NotificationData[];
}

/**
 * A small in-memory Herald server speaking the v1 WebSocket contract: token check before the upgrade
 * (401), `ready`, `subscribed` with recovery and replay from an unbounded history, live notifications,
 * `pong`, `refreshed`, and server-chosen close codes. One replica, no REST: tests publish with `publish`.
 */
export class FakeHeraldServer {
  readonly connections: FakeConnection[] = [];
  refusedHandshakes = 0;
  heartbeatMs = 25_000;
  /**
   * On a recovery subscribe, send the newest stored notification before `subscribed`, as a live
   * notification published while the server handles the subscribe would arrive.
   */
  raceLiveNotificationBeforeSubscribed = false;
  private readonly histories = new Map<string, ChannelHistory>();
  private readonly sockets = new Map<FakeConnection, WebSocket>();

  private constructor(private readonly server: WebSocketServer) {
    server.on('connection', (socket, request) => this.accept(socket, request));
  }

  static async start(): Promise<FakeHeraldServer> {
    const server = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      path: '/v1/ws',
      verifyClient: (info, done) => {
        if (claimsOf(info.req)) return done(true);
        fake.refusedHandshakes++;
        done(false, 401, 'Unauthorized');
      },
    });
    const fake = new FakeHeraldServer(server);
    await new Promise<void>((resolve) => server.once('listening', resolve));
    return fake;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1/ws`;
  }

  /** The connections still open, oldest first. */
  get openConnections(): FakeConnection[] {
    return [...this.sockets.keys()];
  }

  /** Stores the notification in the channel's history and sends it to every open connection on the channel. */
  publish(channel: string, type = 'test.event', payload: unknown = {}): NotificationData {
    const history = this.historyOf(channel);
    const notification: NotificationData = {
      id: randomUUID(),
      channel,
      offset: history.notifications.length + 1,
      epoch: history.epoch,
      type,
      payload,
      createdAt: new Date().toISOString(),
    };
    history.notifications.push(notification);
    for (const [connection, socket] of this.sockets) {
      if (connection.channels.has(channel)) this.send(connection, socket, 'notification', notification);
    }
    return notification;
  }

  /** The channel's history is lost: a new epoch, offsets from 1 again. */
  loseHistory(channel: string): void {
    this.histories.set(channel, { epoch: randomUUID().slice(0, 8), notifications: [] });
  }

  closeAll(code: number, reason = ''): void {
    for (const connection of this.openConnections) connection.closeWith(code, reason);
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets.values()) socket.terminate();
    this.sockets.clear();
    await new Promise<void>((resolve, reject) =>
      this.server.close((error) => (error ? reject(error) : resolve())),
    );
  }

  private accept(socket: WebSocket, request: IncomingMessage): void {
    const claims = claimsOf(request)!;
    const query = new URL(request.url ?? '', 'http://localhost').searchParams;
    const personal = `user:${claims.sub}`;
    let tokenClaims = claims;
    const connection: FakeConnection = {
      query,
      userId: claims.sub,
      channels: new Set([personal, 'broadcast']),
      received: [],
      silent: false,
      closeWith: (code, reason) => {
        this.sockets.delete(connection);
        socket.close(code, reason);
      },
    };
    this.connections.push(connection);
    this.sockets.set(connection, socket);
    socket.on('close', () => this.sockets.delete(connection));
    socket.on('message', (raw) => {
      const frame = JSON.parse((raw as Buffer).toString('utf8')) as {
        event: keyof ClientEvents;
        data: Record<string, unknown>;
      };
      connection.received.push(frame);
      if (connection.silent) return;
      switch (frame.event) {
        case 'subscribe': {
          const { channel, offset, epoch } = frame.data as ClientEvents['subscribe'];
          if (
            channel.startsWith('topic:') &&
            !topicAllowed(tokenClaims.topics, channel.slice('topic:'.length))
          ) {
            return this.send(connection, socket, 'error', {
              code: 'forbidden',
              message: 'not in token topics',
              channel,
            });
          }
          connection.channels.add(channel);
          return this.sendSubscribed(connection, socket, channel, offset, epoch);
        }
        case 'unsubscribe': {
          const { channel } = frame.data as ClientEvents['unsubscribe'];
          connection.channels.delete(channel);
          return this.send(connection, socket, 'unsubscribed', { channel });
        }
        case 'ping':
          return this.send(connection, socket, 'pong', {});
        case 'refresh': {
          const refreshed = verify((frame.data as ClientEvents['refresh']).token);
          if (!refreshed || refreshed.sub !== tokenClaims.sub) {
            return this.send(connection, socket, 'error', { code: 'bad_request', message: 'bad token' });
          }
          tokenClaims = refreshed;
          return this.send(connection, socket, 'refreshed', { exp: refreshed.exp });
        }
        case 'ack':
          // No answer, as Herald's; the frame is in `received` for tests to look at.
          return;
      }
    });
    this.send(connection, socket, 'ready', {
      connectionId: randomUUID(),
      userId: claims.sub,
      channels: [...connection.channels],
      heartbeatMs: this.heartbeatMs,
    });
    const offset = query.get('offset');
    const epoch = query.get('epoch');
    if (offset !== null && epoch !== null)
      this.sendSubscribed(connection, socket, personal, Number(offset), epoch);
  }

  /** With `offset` and `epoch`: `subscribed`, then every stored notification after `offset`, in order. */
  private sendSubscribed(
    connection: FakeConnection,
    socket: WebSocket,
    channel: string,
    offset: number | undefined,
    epoch: string | undefined,
  ): void {
    const history = this.historyOf(channel);
    const newest = history.notifications.length;
    const recovering = offset !== undefined && epoch !== undefined;
    const recovered = recovering && epoch === history.epoch && offset <= newest;
    if (recovering && this.raceLiveNotificationBeforeSubscribed && newest > (offset ?? 0)) {
      this.send(connection, socket, 'notification', history.notifications[newest - 1]);
    }
    this.send(connection, socket, 'subscribed', { channel, offset: newest, epoch: history.epoch, recovered });
    if (recovered) {
      for (const notification of history.notifications.slice(offset)) {
        this.send(connection, socket, 'notification', notification);
      }
    }
  }

  private historyOf(channel: string): ChannelHistory {
    let history = this.histories.get(channel);
    if (!history) {
      history = { epoch: randomUUID().slice(0, 8), notifications: [] };
      this.histories.set(channel, history);
    }
    return history;
  }

  private send<E extends keyof ServerEvents>(
    connection: FakeConnection,
    socket: WebSocket,
    event: E,
    data: ServerEvents[E],
  ): void {
    if (!connection.silent && socket.readyState === WebSocket.OPEN)
      socket.send(JSON.stringify({ event, data }));
  }
}

function claimsOf(request: IncomingMessage): Claims | undefined {
  const token = new URL(request.url ?? '', 'http://localhost').searchParams.get('access_token');
  return token === null ? undefined : verify(token);
}

function verify(token: string): Claims | undefined {
  try {
    return jwt.verify(token, TEST_JWT_SECRET) as Claims;
  } catch {
    return undefined;
  }
}

function topicAllowed(patterns: string[], name: string): boolean {
  return patterns.some((pattern) =>
    pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : pattern === name,
  );
}
