import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Broker, ChannelMessage, ChannelPosition, HistoryPage } from '../broker/broker';
import { BROADCAST, ChannelKind } from '../common/channel';
import { withTimeout } from '../common/timeout';
import { AppConfig } from '../config/app-config';
import { kindOf, Metrics } from '../metrics/metrics';
import type { ServerEvents } from '../protocol/wire';
import { ChannelStream } from './channel-stream';
import { EngineWorkQueue } from './engine-work-queue';
import { MemberList, Membership } from './membership';
import type { Session } from './session';
import { OutgoingNotification } from './transport';
import { Disconnect } from '../common/close-codes';

/** How long joining a channel may wait for the engine before the join fails. */
const SYNC_TIMEOUT_MS = 5000;

/** Catch-ups and epoch ends of this replica, across the engine: paced, see EngineWorkQueue. */
const WORK_QUEUE = { concurrency: 16, initialBackoffMs: 250, maxBackoffMs: 5000, logIntervalMs: 5000 };

export type SubscribedAnswer = ServerEvents['subscribed'];

/** One channel a session asks to be on. */
export interface JoinRequest {
  channel: string;
  /** Recover from this position: replay what is stored after it. */
  from?: ChannelPosition;
  /** Send the `subscribed` answer (always sent for a recovery). */
  announce?: boolean;
}

/** What became of one {@link JoinRequest}: answered, or on the channel live but its recovery failed. */
export type JoinResult = { answer: SubscribedAnswer } | { channel: string; recoveryFailed: Error };

/** This replica's view of one channel it holds sessions on. */
class ChannelState {
  readonly stream: ChannelStream;
  readonly members = new MemberList();
  /** Settles once the engine delivers the channel here and its position is known. */
  ready: Promise<void> = Promise.resolve();
  readonly kind: ChannelKind;

  constructor(
    readonly name: string,
    readonly pinned: boolean,
    maxHeld: number,
  ) {
    this.kind = kindOf(name);
    this.stream = new ChannelStream(maxHeld);
  }
}

/**
 * The channels this replica holds sessions on, and the promise that each session receives a
 * channel's notifications in offset order, once, with no gap:
 * - per channel, a {@link ChannelStream} orders what the engine delivers; when it needs history (a
 *   gap, a new epoch, a resync of the subscription link) the catch-up goes through one
 *   {@link EngineWorkQueue}, paced and with bounded logging;
 * - {@link join} is the one way onto a channel: the membership holds live notifications, the session
 *   gets its `subscribed` answer and, when recovering, the replay — written at the pace the client
 *   reads it — and then the held notifications that are newer.
 * The hub holds the engine's interest: it subscribes a channel with its first session here and
 * unsubscribes after the last one leaves (the broadcast channel is held for good).
 */
@Injectable()
export class ChannelHub implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ChannelHub.name);
  private readonly channels = new Map<string, ChannelState>();
  private readonly workQueue: EngineWorkQueue;

  constructor(
    @Inject(Broker) private readonly broker: Broker,
    @Inject(AppConfig) private readonly config: AppConfig,
    @Inject(Metrics) private readonly metrics: Metrics,
  ) {
    this.workQueue = new EngineWorkQueue('engine', this.logger, WORK_QUEUE);
    broker.onMessage((message) => this.dispatch(message));
    broker.onResync((affects) => this.resync(affects));
  }

  async onModuleInit(): Promise<void> {
    await this.state(BROADCAST).ready;
  }

  onApplicationShutdown(): void {
    this.workQueue.clear();
  }

  /** Channels held on this replica. */
  get channelCount(): number {
    return this.channels.size;
  }

  /**
   * Puts the session on each channel and answers it. Every membership holds live notifications until
   * its answer is out: first the session is on every channel (the engine delivers them here and their
   * positions are known), then `beforeAnswers` runs (the WebSocket `ready`), then each channel is
   * answered — a plain join with the channel's position, a recovery with `subscribed {recovered}` and
   * the replay — and goes live. Rejects, with the session on none of them, when the engine cannot put
   * it on every channel; a failed recovery read leaves that channel live from now (see JoinResult).
   */
  async join(
    session: Session,
    requests: readonly JoinRequest[],
    beforeAnswers?: () => void,
  ): Promise<JoinResult[]> {
    const entered = requests.map(({ channel }) => this.enter(session, channel));
    try {
      await Promise.all(entered.map(({ state }) => state.ready));
    } catch (error) {
      for (const { state } of entered) this.leave(session, state.name);
      throw error;
    }
    beforeAnswers?.();
    return Promise.all(requests.map((request, i) => this.answer(entered[i], request)));
  }

  /** Takes the session off the channel; the last one out ends this replica's interest. */
  leave(session: Session, channel: string): void {
    const membership = session.removeMembership(channel);
    membership?.dropHeld();
    if (membership?.list?.remove(membership)) this.metrics.subscriptions.dec({ kind: kindOf(channel) });
    const state = this.channels.get(channel);
    if (state && state.members.size === 0 && !state.pinned) {
      this.channels.delete(channel);
      this.workQueue.cancel(channel);
      this.broker.unsubscribe(channel);
    }
  }

  /** Takes a closed session off every channel. */
  leaveAll(session: Session): void {
    for (const { channel } of session.memberships()) this.leave(session, channel);
  }

  /**
   * Puts the session on the channel, holding live notifications. `resume`: where an existing live
   * membership stood, to go back to if a recovery read fails.
   */
  private enter(
    session: Session,
    channel: string,
  ): { state: ChannelState; membership: Membership; resume?: ChannelPosition } {
    const state = this.state(channel);
    let membership = session.membership(channel);
    if (membership) {
      const resume = membership.joining ? undefined : { offset: membership.offset, epoch: membership.epoch };
      membership.rejoin();
      return { state, membership, resume };
    }
    membership = new Membership(session, channel);
    session.addMembership(membership);
    state.members.add(membership);
    this.metrics.subscriptions.inc({ kind: state.kind });
    return { state, membership };
  }

  private async answer(
    { state, membership, resume }: ReturnType<ChannelHub['enter']>,
    request: JoinRequest,
  ): Promise<JoinResult> {
    const { channel, from } = request;
    const session = membership.session;
    if (!from) {
      const answer: SubscribedAnswer = { channel, ...this.positionOf(state), recovered: false };
      if (request.announce) session.send('subscribed', answer);
      this.goLive(membership, answer);
      return { answer };
    }
    // The client has everything up to `from`: what the replay writes goes on from there (and an SSE
    // event id written meanwhile names that position).
    membership.offset = from.offset;
    membership.epoch = from.epoch;
    let page: HistoryPage;
    try {
      page = await this.broker.history(channel, from.offset, this.config.historySize);
    } catch (error) {
      if (!session.transport.bidirectional) {
        // An SSE stream cannot be told which channel failed: it ends, and its reconnect recovers
        // from the ids already written (they still name `from`).
        session.close(Disconnect.EngineUnavailable);
        return { channel, recoveryFailed: error as Error };
      }
      // Without the replay the session stays on the channel live from now (or from where it stood,
      // when it was on it already); it was not told an offset.
      this.goLive(membership, resume ?? this.positionOf(state));
      return { channel, recoveryFailed: error as Error };
    }
    const recovered =
      page.epoch === from.epoch &&
      from.offset <= page.offset &&
      page.messages.length === page.offset - from.offset &&
      (page.messages.length === 0 || page.messages[0].offset === from.offset + 1);
    const answer: SubscribedAnswer = { channel, offset: page.offset, epoch: page.epoch, recovered };
    if (membership.list === null) return { answer };
    session.send('subscribed', answer);
    if (recovered) void this.replay(membership, page);
    else this.goLive(membership, page);
    return { answer };
  }

  /**
   * Writes a recovery replay at the pace the client reads it: whenever the socket's buffer is full,
   * the next notification waits until it drains, so a slow link gets every notification and no 4008.
   * Live notifications of the channel wait (held) behind it, within WS_MAX_BUFFERED_BYTES.
   */
  private async replay(membership: Membership, page: HistoryPage): Promise<void> {
    const { session, generation } = membership;
    const current = () => membership.list !== null && membership.generation === generation;
    let written = 0;
    for (const message of page.messages) {
      if (!current() || !session.isOpen) return;
      membership.advance(message);
      written += 1;
      if (!session.write(new OutgoingNotification(message))) await session.transport.whenWritable();
    }
    this.metrics.replayed.inc({ source: 'recovery' }, written);
    this.metrics.deliveredOf[kindOf(membership.channel)].inc(written);
    if (current()) this.goLive(membership, page);
  }

  /** Ends the membership's hold: writes the held notifications newer than `position`, then live. */
  private goLive(membership: Membership, position: ChannelPosition): void {
    let written = 0;
    for (const notification of membership.goLive(position)) {
      if (!membership.advance(notification.message)) continue;
      this.writeTo(membership.session, notification);
      written += 1;
    }
    if (written > 0) this.metrics.deliveredOf[kindOf(membership.channel)].inc(written);
  }

  /** The position dispatched on this replica (the channel is synced once `ready` settled). */
  private positionOf(state: ChannelState): ChannelPosition {
    return { offset: state.stream.offset, epoch: state.stream.epoch };
  }

  private state(channel: string): ChannelState {
    let state = this.channels.get(channel);
    if (!state) {
      state = new ChannelState(channel, channel === BROADCAST, this.config.historySize);
      this.channels.set(channel, state);
      state.ready = this.sync(state);
      // Waiters handle the rejection; this keeps an unwaited failure from being unhandled.
      state.ready.catch(() => undefined);
    }
    return state;
  }

  /** Subscribes the channel on the engine, then learns its position; held messages follow. */
  private async sync(state: ChannelState): Promise<void> {
    try {
      await withTimeout(this.broker.subscribe(state.name), SYNC_TIMEOUT_MS, `subscribing ${state.name}`);
      state.stream.markRead();
      const position = await this.broker.history(state.name, Number.MAX_SAFE_INTEGER, 0);
      this.deliver(state, state.stream.sync(position));
    } catch (error) {
      if (this.channels.get(state.name) === state) {
        this.channels.delete(state.name);
        this.broker.unsubscribe(state.name);
      }
      throw error;
    }
    this.afterStreamChange(state);
  }

  private dispatch(message: ChannelMessage): void {
    const state = this.channels.get(message.channel);
    if (!state) return;
    if (message.publishedAt !== undefined)
      this.metrics.deliveryLag.observe((Date.now() - message.publishedAt) / 1000);
    this.deliver(state, state.stream.receive(message));
    this.afterStreamChange(state);
  }

  /** What the stream may ask for after any input: a catch-up, or ending an epoch whose offsets were reused. */
  private afterStreamChange(state: ChannelState): void {
    if (state.stream.needsCatchUp) this.workQueue.schedule(state.name, () => this.catchUp(state));
    if (state.stream.takeReusedOffsets()) this.scheduleEndLife(state);
  }

  private scheduleEndLife(state: ChannelState): void {
    const epoch = state.stream.epoch;
    this.workQueue.schedule(`end-life:${state.name}`, () => this.endLife(state, epoch));
  }

  /** Writes each message, framed once per transport kind, to every member that is live on the channel. */
  private deliver(state: ChannelState, messages: readonly ChannelMessage[]): void {
    if (messages.length === 0 || state.members.size === 0) return;
    let written = 0;
    for (const message of messages) {
      const notification = new OutgoingNotification(message);
      let next: Membership | null;
      for (let membership = state.members.first; membership; membership = next) {
        next = membership.nextOnChannel;
        if (membership.joining) {
          membership.hold(notification);
          membership.session.checkBuffered();
        } else if (membership.advance(message)) {
          this.writeTo(membership.session, notification);
          written += 1;
        }
      }
    }
    if (written > 0) this.metrics.deliveredOf[state.kind].inc(written);
  }

  private writeTo(session: Session, notification: OutgoingNotification): void {
    try {
      session.write(notification);
    } catch (error) {
      // One broken socket never stops delivery to the others.
      this.logger.warn(`write to session ${session.id} failed: ${(error as Error).message}`);
    }
  }

  /**
   * Reads what this replica missed on the channel from history and dispatches it in order (a queue
   * task: a failure leaves the stream in need of a catch-up and the queue retries it). Stops when the
   * engine turns out to have reused offsets: ending the epoch (queued) is what resolves that.
   */
  private async catchUp(state: ChannelState): Promise<void> {
    while (this.channels.get(state.name) === state && state.stream.needsCatchUp) {
      state.stream.markRead();
      const page = await this.broker.history(state.name, state.stream.catchUpAfter, this.config.historySize);
      const dispatched = state.stream.caughtUp(page);
      if (dispatched.length > 0) this.metrics.replayed.inc({ source: 'catch_up' }, dispatched.length);
      this.deliver(state, dispatched);
      if (state.stream.takeReusedOffsets()) {
        this.scheduleEndLife(state);
        return;
      }
    }
  }

  /**
   * The engine stored a different message at an offset this replica already dispatched, or is behind
   * that offset, in the same epoch: it lost writes that were delivered (a Redis crash between AOF
   * fsyncs) and is reusing their offsets, which clients would drop as duplicates. Ending the channel's
   * life makes its next message start a new epoch, so every client learns of the loss
   * (`recovered: false`) instead. A queue task: retried, paced, while the engine is unreachable.
   */
  private async endLife(state: ChannelState, epoch: string): Promise<void> {
    const ended = await this.broker.endLife(state.name, epoch);
    this.logger.warn(
      `${state.name}: the engine reused offsets up to ${state.stream.offset} of epoch ${epoch} ` +
        `(it lost delivered notifications)${ended ? '; a new epoch starts with the next notification' : ''}`,
    );
    if (ended) this.metrics.historyLosses.inc();
  }

  /**
   * After the engine's subscription link came back or moved (for the channels `affects` names; every
   * channel when undefined): messages may have been missed there, quiet channels included, so each
   * catches up from history — through the paced queue, not all at once.
   */
  private resync(affects: ((channel: string) => boolean) | undefined): void {
    let count = 0;
    for (const state of this.channels.values()) {
      if (affects && !affects(state.name)) continue;
      state.stream.resync();
      this.afterStreamChange(state);
      count += 1;
    }
    this.logger.log(`subscription link restored; catching up ${count} channels`);
  }
}
