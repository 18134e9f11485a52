import { Inject, Logger } from '@nestjs/common';
import { OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import type { RawData, WebSocket } from 'ws';
import { ClientTokenVerifier, InvalidTokenError } from '../auth/client-token';
import { ChannelPosition } from '../broker/broker';
import { BROADCAST, parseChannel, userChannel } from '../common/channel';
import { CloseCode } from '../common/close-codes';
import { AppConfig } from '../config/app-config';
import { Connection, ConnectionEvents } from './connection';
import { ConnectionHub } from './connection-hub';
import { Metrics } from '../metrics/metrics';
import { Logs } from '../logging/logging.module';
import type { Logger as PinoLogger } from 'pino';
import { PresenceRegistry } from '../presence/presence.registry';
import { ClientEvents, parseClientFrame } from './protocol';
import { takeAdmission } from './ws-adapter';

/** Server-side closes that count as cut-offs in the metrics, by close code. */
const CUT_OFF_REASONS: Partial<Record<CloseCode, string>> = {
  [CloseCode.SlowConsumer]: 'slow_consumer',
  [CloseCode.HeartbeatTimeout]: 'heartbeat',
  [CloseCode.TokenExpired]: 'token_expired',
};

/** Topics one connection may be on at once. */
export const MAX_TOPICS_PER_CONNECTION = 100;

/**
 * `GET /v1/ws`: one connection per device. The handshake (HeraldWsAdapter + HandshakeGate) has
 * already checked the token; here the connection joins its personal and the broadcast channel, gets
 * `ready`, and its frames are handled one at a time, in order.
 */
@WebSocketGateway({ path: '/v1/ws' })
export class NotificationsGateway implements OnGatewayConnection, ConnectionEvents {
  private readonly logger = new Logger(NotificationsGateway.name);
  private readonly log: PinoLogger;

  constructor(
    @Inject(ConnectionHub) private readonly hub: ConnectionHub,
    @Inject(ClientTokenVerifier) private readonly tokens: ClientTokenVerifier,
    @Inject(PresenceRegistry) private readonly presence: PresenceRegistry,
    @Inject(AppConfig) private readonly config: AppConfig,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(Logs) logs: Logs,
  ) {
    this.log = logs.for(NotificationsGateway.name);
  }

  handleConnection(socket: WebSocket, request: IncomingMessage): void {
    const admission = takeAdmission(request);
    const connection = new Connection(
      admission.connectionId,
      socket,
      request.socket,
      admission.identity,
      this.config.wsMaxBufferedBytes,
      this,
    );
    this.hub.add(connection);
    this.log.info(
      {
        connectionId: connection.id,
        userId: connection.userId,
        recovering: admission.recovery !== undefined,
      },
      'connection opened',
    );
    const { recovery } = admission;
    this.run(connection, () => this.open(connection, recovery));
  }

  frame(connection: Connection, data: RawData, isBinary: boolean): void {
    this.run(connection, () => this.handleFrame(connection, data, isBinary));
  }

  closed(connection: Connection): void {
    this.hub.remove(connection);
    const reason = connection.closedWith === undefined ? undefined : CUT_OFF_REASONS[connection.closedWith];
    if (reason) this.metrics.cutOffs.inc({ reason });
    this.log.info(
      {
        connectionId: connection.id,
        userId: connection.userId,
        code: connection.closedWith ?? connection.closeCode ?? null,
      },
      'connection closed',
    );
    this.presence
      .remove({ userId: connection.userId, connectionId: connection.id })
      .catch((error: Error) => this.logger.warn(`presence removal failed: ${error.message}`));
  }

  /** Queues a task of this connection; a failure is answered with an `internal` error frame. */
  private run(connection: Connection, task: () => Promise<void> | void): void {
    connection.enqueue(task).catch((error: Error) => {
      this.logger.error(`connection ${connection.id}: ${error.message}`, error.stack);
      connection.send('error', { code: 'internal', message: 'internal error' });
    });
  }

  /** Puts the connection on `user:<id>` and `broadcast`, then `ready` (and the personal recovery). */
  private async open(connection: Connection, recovery: ChannelPosition | undefined): Promise<void> {
    const personal = userChannel(connection.userId);
    try {
      await Promise.all([this.hub.enter(connection, personal), this.hub.enter(connection, BROADCAST)]);
    } catch (error) {
      this.logger.warn(
        `connection ${connection.id} could not join its channels: ${(error as Error).message}`,
      );
      connection.close(CloseCode.InternalError, 'engine unavailable, retry');
      return;
    }
    this.hub.goLive(connection, BROADCAST, false);
    if (!recovery) this.hub.goLive(connection, personal, false);
    connection.send('ready', {
      connectionId: connection.id,
      userId: connection.userId,
      channels: [personal, BROADCAST],
      heartbeatMs: this.config.heartbeatIntervalMs,
    });
    if (recovery) await this.recover(connection, personal, recovery);
  }

  private async handleFrame(connection: Connection, data: RawData, isBinary: boolean): Promise<void> {
    if (!connection.isOpen) return;
    if (isBinary) {
      connection.send('error', { code: 'bad_request', message: 'frames must be JSON text frames' });
      return;
    }
    const parsed = parseClientFrame(rawText(data));
    if (!parsed.ok) {
      const { message, channel } = parsed;
      connection.send(
        'error',
        channel === undefined ? { code: 'bad_request', message } : { code: 'bad_request', message, channel },
      );
      return;
    }
    const { frame } = parsed;
    switch (frame.event) {
      case 'subscribe':
        return this.subscribe(connection, frame.data);
      case 'unsubscribe':
        return this.unsubscribe(connection, frame.data);
      case 'ping':
        connection.send('pong', {});
        return;
      case 'refresh':
        return this.refresh(connection, frame.data);
    }
  }

  private async subscribe(connection: Connection, request: ClientEvents['subscribe']): Promise<void> {
    const { channel } = request;
    const parsed = parseChannel(channel);
    if (!parsed) {
      connection.send('error', {
        code: 'bad_request',
        message: 'channel must be user:<id>, topic:<name> ([A-Za-z0-9._:-], 1-200 chars) or broadcast',
        channel,
      });
      return;
    }
    const allowed =
      parsed.kind === 'broadcast' ||
      (parsed.kind === 'user' && parsed.userId === connection.userId) ||
      (parsed.kind === 'topic' && connection.identity.topics.allows(parsed.topic));
    if (!allowed) {
      connection.send('error', {
        code: 'forbidden',
        message: `your token does not allow ${channel}`,
        channel,
      });
      return;
    }
    const member = connection.membership(channel);
    if (!member && parsed.kind === 'topic' && this.topicCount(connection) >= MAX_TOPICS_PER_CONNECTION) {
      connection.send('error', {
        code: 'too_many_subscriptions',
        message: `at most ${MAX_TOPICS_PER_CONNECTION} topics per connection`,
        channel,
      });
      return;
    }
    const recovery =
      request.epoch !== undefined ? { offset: request.offset ?? 0, epoch: request.epoch } : undefined;
    if (member && !recovery) {
      connection.send('subscribed', {
        channel,
        offset: member.offset,
        epoch: member.epoch,
        recovered: false,
      });
      return;
    }
    try {
      await this.hub.enter(connection, channel);
    } catch (error) {
      this.failSubscribe(connection, channel, error);
      return;
    }
    if (recovery) await this.recover(connection, channel, recovery);
    else this.hub.goLive(connection, channel, true);
  }

  private async recover(connection: Connection, channel: string, from: ChannelPosition): Promise<void> {
    try {
      await this.hub.recover(connection, channel, from);
    } catch (error) {
      // Without the replay the connection stays on the channel live from now; it was not told an offset.
      this.hub.goLive(connection, channel, false);
      this.failSubscribe(connection, channel, error);
    }
  }

  private failSubscribe(connection: Connection, channel: string, error: unknown): void {
    this.logger.warn(`subscribe ${channel} failed: ${(error as Error).message}`);
    connection.send('error', {
      code: 'internal',
      message: 'engine unavailable, retry the subscribe',
      channel,
    });
  }

  private unsubscribe(connection: Connection, { channel }: ClientEvents['unsubscribe']): void {
    if (parseChannel(channel)?.kind !== 'topic') {
      connection.send('error', { code: 'bad_request', message: 'only topic channels can be left', channel });
      return;
    }
    this.hub.leave(connection, channel);
    connection.send('unsubscribed', { channel });
  }

  private async refresh(connection: Connection, { token }: ClientEvents['refresh']): Promise<void> {
    try {
      const identity = await this.tokens.verify(token);
      if (identity.userId !== connection.userId) {
        connection.send('error', { code: 'forbidden', message: 'refresh token is for another user' });
        return;
      }
      connection.refresh(identity);
      connection.send('refreshed', { exp: Math.floor(identity.expiresAt / 1000) });
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) throw error;
      connection.send('error', { code: 'bad_request', message: `refresh refused: ${error.message}` });
    }
  }

  private topicCount(connection: Connection): number {
    let count = 0;
    for (const { channel } of connection.memberships()) if (channel.startsWith('topic:')) count += 1;
    return count;
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}
