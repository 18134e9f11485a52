import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Logger as PinoLogger } from 'pino';
import type { ClientIdentity } from '../auth/client-token';
import { ClientTokenVerifier, InvalidTokenError } from '../auth/client-token';
import type { ChannelPosition } from '../broker/broker';
import { BROADCAST, parseChannel, topicChannel, userChannel } from '../common/channel';
import { Disconnect } from '../common/close-codes';
import { AppConfig } from '../config/app-config';
import { Logs } from '../logging/logging.module';
import { Metrics } from '../metrics/metrics';
import { Acknowledgements } from '../push/acknowledgements';
import type { ClientEvents, ClientFrame, ErrorCode } from '../protocol/wire';
import { ChannelHub, JoinResult } from './channel-hub';
import { Session } from './session';
import { SessionRegistry } from './session-registry';
import type { Transport } from './transport';

/** Topics one session may be on at once. */
export const MAX_TOPICS_PER_SESSION = 100;

/** How an admitted session starts. */
export interface SessionStart {
  connectionId: string;
  identity: ClientIdentity;
  transport: Transport;
  /** Topics joined at start (SSE's `topics` query; already checked with {@link topicRefusal}). */
  topics?: readonly string[];
  /** Per channel, where to recover from. */
  recover?: ReadonlyMap<string, ChannelPosition>;
  /** Answer every channel joined at start with `subscribed` (SSE); else only recoveries (WebSocket). */
  announceAll?: boolean;
}

/** Why a channel may not be joined, as an error frame's code and message. */
export interface JoinRefusal {
  code: Extract<ErrorCode, 'bad_request' | 'forbidden' | 'too_many_subscriptions'>;
  message: string;
}

const MALFORMED_CHANNEL =
  'channel must be user:<id>, topic:<name> ([A-Za-z0-9._:-], 1-200 chars) or broadcast';

/**
 * The rules of a client session, once for every transport: it starts on its personal and the
 * broadcast channel (`ready` once it is on both), may join a topic its token allows, at most
 * {@link MAX_TOPICS_PER_SESSION} of them, recovers any channel from a position, and may replace its
 * token for the same user. Transports hand it admitted sessions and (WebSocket) client frames, and
 * tell it when a session ended; expiry and the heartbeat are swept by {@link Heartbeat}.
 */
@Injectable()
export class SessionService {
  private readonly logger = new Logger(SessionService.name);
  private readonly log: PinoLogger;

  constructor(
    @Inject(ChannelHub) private readonly hub: ChannelHub,
    @Inject(SessionRegistry) private readonly registry: SessionRegistry,
    @Inject(ClientTokenVerifier) private readonly tokens: ClientTokenVerifier,
    @Inject(AppConfig) private readonly config: AppConfig,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(Acknowledgements) private readonly acknowledgements: Acknowledgements,
    @Inject(Logs) logs: Logs,
  ) {
    this.log = logs.for(SessionService.name);
  }

  /** Why `identity` may not join `channel` at all (malformed, or not allowed by its token). */
  static refusal(identity: ClientIdentity, channel: string): JoinRefusal | undefined {
    const parsed = parseChannel(channel);
    if (!parsed) return { code: 'bad_request', message: MALFORMED_CHANNEL };
    const allowed =
      parsed.kind === 'broadcast' ||
      (parsed.kind === 'user' && parsed.userId === identity.userId) ||
      (parsed.kind === 'topic' && identity.topics.allows(parsed.topic));
    return allowed ? undefined : { code: 'forbidden', message: `your token does not allow ${channel}` };
  }

  /** Starts an admitted session: its channels, `ready`, and the recoveries asked for. */
  start(start: SessionStart): Session {
    const session = new Session(
      start.connectionId,
      start.transport,
      start.identity,
      this.config.wsMaxBufferedBytes,
    );
    this.registry.add(session);
    this.log.info(
      {
        connectionId: session.id,
        userId: session.userId,
        transport: start.transport.kind,
        recovering: (start.recover?.size ?? 0) > 0,
      },
      'connection opened',
    );
    this.run(session, () => this.open(session, start));
    return session;
  }

  /** A WebSocket client frame, handled after every earlier one of the session. */
  handle(session: Session, frame: ClientFrame): void {
    this.run(session, () => this.dispatch(session, frame));
  }

  /** Answers a request the transport refused to read (not JSON, unknown event, …). */
  refuse(session: Session, message: string, channel?: string): void {
    this.run(session, () => {
      session.send(
        'error',
        channel === undefined ? { code: 'bad_request', message } : { code: 'bad_request', message, channel },
      );
    });
  }

  /** The transport's socket is gone: the session leaves every channel and presence. */
  ended(session: Session): void {
    this.hub.leaveAll(session);
    this.registry.remove(session);
    const cutOff = session.endedWith?.cutOff;
    if (cutOff) this.metrics.cutOffs.inc({ reason: cutOff });
    this.log.info(
      {
        connectionId: session.id,
        userId: session.userId,
        transport: session.transport.kind,
        code: session.endedWith?.code ?? session.transport.closeCode ?? null,
      },
      'connection closed',
    );
  }

  /** Queues a task of this session; a failure is answered with an `internal` error. */
  private run(session: Session, task: () => Promise<void> | void): void {
    session.enqueue(task).catch((error: Error) => {
      this.logger.error(`session ${session.id}: ${error.message}`, error.stack);
      session.send('error', { code: 'internal', message: 'internal error' });
    });
  }

  private async open(session: Session, start: SessionStart): Promise<void> {
    const personal = userChannel(session.userId);
    const channels = [personal, BROADCAST, ...(start.topics ?? []).map(topicChannel)];
    let results: JoinResult[];
    try {
      results = await this.hub.join(
        session,
        channels.map((channel) => ({
          channel,
          from: start.recover?.get(channel),
          announce: start.announceAll === true,
        })),
        () =>
          session.send('ready', {
            connectionId: session.id,
            userId: session.userId,
            channels: [personal, BROADCAST],
            heartbeatMs: this.config.heartbeatIntervalMs,
          }),
      );
    } catch (error) {
      this.logger.warn(`session ${session.id} could not join its channels: ${(error as Error).message}`);
      session.close(Disconnect.EngineUnavailable);
      return;
    }
    for (const result of results) this.reportRecoveryFailure(session, result);
  }

  private async dispatch(session: Session, frame: ClientFrame): Promise<void> {
    if (!session.isOpen) return;
    switch (frame.event) {
      case 'subscribe':
        return this.subscribe(session, frame.data);
      case 'unsubscribe':
        return this.unsubscribe(session, frame.data);
      case 'ping':
        session.send('pong', {});
        return;
      case 'refresh':
        return this.refresh(session, frame.data);
      case 'ack':
        this.acknowledge(session, frame.data);
        return;
    }
  }

  /**
   * No answer, and not awaited: later frames do not wait for the engine. An ack that fails to be
   * recorded is logged; at worst the notification is pushed too (pushes are at-least-once).
   */
  private acknowledge(session: Session, { ids }: ClientEvents['ack']): void {
    this.acknowledgements.acknowledge(session.userId, ids).catch((error: Error) => {
      this.log.warn(
        { connectionId: session.id, userId: session.userId, err: error.message },
        'ack not recorded',
      );
    });
  }

  private async subscribe(session: Session, request: ClientEvents['subscribe']): Promise<void> {
    const { channel } = request;
    const member = session.membership(channel);
    const refusal =
      SessionService.refusal(session.identity, channel) ??
      (!member && channel.startsWith('topic:') && session.topicCount() >= MAX_TOPICS_PER_SESSION
        ? {
            code: 'too_many_subscriptions' as const,
            message: `at most ${MAX_TOPICS_PER_SESSION} topics per connection`,
          }
        : undefined);
    if (refusal) {
      session.send('error', { ...refusal, channel });
      return;
    }
    const from =
      request.epoch !== undefined ? { offset: request.offset ?? 0, epoch: request.epoch } : undefined;
    if (member && !from) {
      session.send('subscribed', { channel, offset: member.offset, epoch: member.epoch, recovered: false });
      return;
    }
    let results: JoinResult[];
    try {
      results = await this.hub.join(session, [{ channel, from, announce: true }]);
    } catch (error) {
      this.failSubscribe(session, channel, error as Error);
      return;
    }
    this.reportRecoveryFailure(session, results[0]);
  }

  private reportRecoveryFailure(session: Session, result: JoinResult): void {
    if ('recoveryFailed' in result) this.failSubscribe(session, result.channel, result.recoveryFailed);
  }

  private failSubscribe(session: Session, channel: string, error: Error): void {
    this.logger.warn(`subscribe ${channel} failed: ${error.message}`);
    session.send('error', { code: 'internal', message: 'engine unavailable, retry the subscribe', channel });
  }

  private unsubscribe(session: Session, { channel }: ClientEvents['unsubscribe']): void {
    if (parseChannel(channel)?.kind !== 'topic') {
      session.send('error', { code: 'bad_request', message: 'only topic channels can be left', channel });
      return;
    }
    this.hub.leave(session, channel);
    session.send('unsubscribed', { channel });
  }

  private async refresh(session: Session, { token }: ClientEvents['refresh']): Promise<void> {
    try {
      const identity = await this.tokens.verify(token);
      if (identity.userId !== session.userId) {
        session.send('error', { code: 'forbidden', message: 'refresh token is for another user' });
        return;
      }
      session.refresh(identity);
      session.send('refreshed', { exp: Math.floor(identity.expiresAt / 1000) });
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) throw error;
      session.send('error', { code: 'bad_request', message: `refresh refused: ${error.message}` });
    }
  }
}
