import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { Broker, ChannelMessage, ChannelPosition } from '../broker/broker';
import { notificationFrame } from '../broker/notification-encoding';
import { BROADCAST, ChannelKind } from '../common/channel';
import { kindOf, Metrics } from '../metrics/metrics';
import { CloseCode } from '../common/close-codes';
import { withTimeout } from '../common/timeout';
import { AppConfig } from '../config/app-config';
import { Connection } from './connection';
import { MemberList, Membership } from './membership';
import { textFrame } from './ws-frame';

/** How long joining a channel may wait for the engine before the join fails. */
const SYNC_TIMEOUT_MS = 5000;
/** After a failed catch-up, how long until the next try. */
const CATCH_UP_RETRY_MS = 1000;

/** The `ready` of every synced channel: one promise instead of one per channel. */
const SYNCED: Promise<void> = Promise.resolve();

/** This replica's view of one channel it holds connections on. */
class ChannelState {
  /** The last message dispatched on this replica (offset within epoch). */
  offset = 0;
  epoch = '';
  /**
   * The notification at `offset` when this replica dispatched it ({@link notificationKey}; 0 when the
   * position was learnt otherwise): a different one arriving at that offset in the same epoch means the
   * engine reused offsets (see {@link ConnectionHub.offsetsReused}).
   */
  lastKey = 0;
  endingLife = false;
  synced = false;
  catchingUp = false;
  /** Messages that arrived while the position was unknown or a gap was being filled. */
  held: ChannelMessage[] | null = null;
  readonly members = new MemberList();
  ready: Promise<void> = SYNCED;
  /** The metrics label, worked out once. */
  readonly kind: ChannelKind;

  constructor(
    readonly name: string,
    readonly pinned: boolean,
  ) {
    this.kind = kindOf(name);
  }
}

/**
 * This replica's connections and the channels they are on. It keeps the promise that each connection
 * receives a channel's notifications in offset order, once, with no gap:
 * - per channel, messages are dispatched strictly in offset order; a message that skips offsets (the
 *   Redis link dropped something) or a reconnect of the subscription link makes the hub fill the gap
 *   from history before dispatching anything newer;
 * - a connection that joins or recovers a channel buffers live messages until its replay is written,
 *   then writes only what is newer than what it has.
 * The hub holds the engine's interest: it subscribes a channel with its first connection here and
 * unsubscribes after the last one leaves (the broadcast channel is held for good).
 */
@Injectable()
export class ConnectionHub implements OnModuleInit {
  private readonly logger = new Logger(ConnectionHub.name);
  private readonly channels = new Map<string, ChannelState>();
  private readonly connections = new Set<Connection>();

  constructor(
    @Inject(Broker) private readonly broker: Broker,
    @Inject(AppConfig) private readonly config: AppConfig,
    @Inject(Metrics) private readonly metrics: Metrics,
  ) {
    broker.onMessage((message) => this.dispatch(message));
    broker.onResync(() => this.resync());
  }

  async onModuleInit(): Promise<void> {
    await this.state(BROADCAST).ready;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** This replica's connections. */
  all(): IterableIterator<Connection> {
    return this.connections.values();
  }

  add(connection: Connection): void {
    this.connections.add(connection);
    this.metrics.connections.inc();
  }

  /** Takes a closed connection off every channel. */
  remove(connection: Connection): void {
    if (this.connections.delete(connection)) this.metrics.connections.dec();
    for (const { channel } of connection.memberships()) this.leave(connection, channel);
  }

  /** Closes every connection with `code` (graceful shutdown). */
  closeAll(code: CloseCode, reason: string): void {
    for (const connection of this.connections) connection.close(code, reason);
  }

  /** Cuts every socket at once (after the graceful close had its chance). */
  terminateAll(): void {
    for (const connection of this.connections) connection.terminate();
  }

  /**
   * Puts the connection on the channel with live messages held back, once this replica receives the
   * channel. Follow with {@link goLive} or {@link recover}. Rejects when the engine is unavailable.
   */
  async enter(connection: Connection, channel: string): Promise<void> {
    const state = this.state(channel);
    let membership = connection.membership(channel);
    if (!membership) {
      membership = new Membership(connection, channel);
      connection.addMembership(membership);
      state.members.add(membership);
      this.metrics.subscriptions.inc({ kind: state.kind });
    }
    membership.pending ??= [];
    try {
      await state.ready;
    } catch (error) {
      this.leave(connection, channel);
      throw error;
    }
  }

  /** The channel's position as this replica has dispatched it. */
  position(channel: string): ChannelPosition | undefined {
    const state = this.channels.get(channel);
    return state?.synced ? { offset: state.offset, epoch: state.epoch } : undefined;
  }

  /**
   * Starts live delivery from the channel's current position: what was held back and is not newer
   * than that position is dropped (the client is told that position as the newest offset). With
   * `announce`, a `subscribed` frame goes out first.
   */
  goLive(connection: Connection, channel: string, announce: boolean): void {
    const position = this.position(channel);
    if (!position) return;
    if (announce) connection.send('subscribed', { channel, ...position, recovered: false });
    this.release(connection, channel, position);
  }

  /**
   * Answers `subscribed` and replays every stored message after `from`, then goes live with no gap and
   * no duplicate. `recovered` is true only when the epoch matches and nothing after `from` is missing
   * from history; otherwise nothing is replayed and the client should reload its state.
   */
  async recover(connection: Connection, channel: string, from: ChannelPosition): Promise<void> {
    const page = await this.broker.history(channel, from.offset, this.config.historySize);
    if (!connection.membership(channel)) return;
    const recovered =
      page.epoch === from.epoch &&
      from.offset <= page.offset &&
      page.messages.length === page.offset - from.offset &&
      (page.messages.length === 0 || page.messages[0].offset === from.offset + 1);
    connection.send('subscribed', { channel, offset: page.offset, epoch: page.epoch, recovered });
    if (recovered) {
      for (const message of page.messages) connection.write(textFrame(notificationFrame(message.data)));
      this.metrics.replayed.inc({ source: 'recovery' }, page.messages.length);
      this.metrics.deliveredOf[kindOf(channel)].inc(page.messages.length);
    }
    this.release(connection, channel, page);
  }

  /** Takes the connection off the channel; the last one out ends this replica's interest. */
  leave(connection: Connection, channel: string): void {
    const membership = connection.removeMembership(channel);
    if (membership?.list?.remove(membership)) this.metrics.subscriptions.dec({ kind: kindOf(channel) });
    const state = this.channels.get(channel);
    if (state && state.members.size === 0 && !state.pinned) {
      this.channels.delete(channel);
      this.broker.unsubscribe(channel);
    }
  }

  /** Writes what the membership held back that is newer than `position`, then delivers live. */
  private release(connection: Connection, channel: string, position: ChannelPosition): void {
    const membership = connection.membership(channel);
    if (!membership) return;
    const pending = membership.pending ?? [];
    membership.offset = position.offset;
    membership.epoch = position.epoch;
    membership.pending = null;
    let written = 0;
    for (const message of pending) {
      if (this.writeTo(connection, membership, message, textFrame(notificationFrame(message.data))))
        written += 1;
    }
    if (written > 0) this.metrics.deliveredOf[kindOf(channel)].inc(written);
  }

  private state(channel: string): ChannelState {
    let state = this.channels.get(channel);
    if (!state) {
      state = new ChannelState(channel, channel === BROADCAST);
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
      const position = await this.broker.history(state.name, Number.MAX_SAFE_INTEGER, 0);
      state.offset = position.offset;
      state.epoch = position.epoch;
      state.lastKey = 0;
      state.synced = true;
      state.ready = SYNCED;
    } catch (error) {
      if (this.channels.get(state.name) === state) {
        this.channels.delete(state.name);
        this.broker.unsubscribe(state.name);
      }
      throw error;
    }
    this.drainHeld(state);
  }

  private dispatch(message: ChannelMessage): void {
    const state = this.channels.get(message.channel);
    if (state) this.accept(state, message);
  }

  private accept(state: ChannelState, message: ChannelMessage): void {
    if (!state.synced || state.catchingUp) {
      this.hold(state, message);
      return;
    }
    if (message.epoch === state.epoch) {
      if (
        message.offset === state.offset &&
        state.lastKey !== 0 &&
        notificationKey(message.data) !== state.lastKey
      ) {
        void this.offsetsReused(state);
        return;
      }
      if (message.offset <= state.offset) return;
      if (message.offset === state.offset + 1) {
        this.deliver(state, message);
        return;
      }
    }
    // Offsets skipped, or a new epoch (the history was lost and restarted): fill from history first.
    this.hold(state, message);
    void this.catchUp(state);
  }

  private hold(state: ChannelState, message: ChannelMessage): void {
    // Held messages are also in history, which the catch-up reads: dropping the oldest is safe.
    state.held ??= [];
    if (state.held.length >= this.config.historySize) state.held.shift();
    state.held.push(message);
  }

  private drainHeld(state: ChannelState): void {
    const held = state.held;
    if (!held) return;
    state.held = null;
    for (const message of held) this.accept(state, message);
  }

  /** Reads what this replica missed on the channel from history and dispatches it in order. */
  private async catchUp(state: ChannelState): Promise<void> {
    if (state.catchingUp || !state.synced) return;
    state.catchingUp = true;
    try {
      let page = await this.broker.history(state.name, state.offset, this.config.historySize);
      // The engine is behind what this replica dispatched, in the same epoch: it lost writes.
      if (page.epoch === state.epoch && page.offset < state.offset) void this.offsetsReused(state);
      if (page.epoch !== state.epoch) {
        page = await this.broker.history(state.name, 0, this.config.historySize);
        state.epoch = page.epoch;
        state.offset = page.messages.length > 0 ? page.messages[0].offset - 1 : page.offset;
        state.lastKey = 0;
      }
      let caughtUp = 0;
      for (const message of page.messages) {
        if (message.offset > state.offset) {
          this.deliver(state, message);
          caughtUp += 1;
        }
      }
      if (caughtUp > 0) this.metrics.replayed.inc({ source: 'catch_up' }, caughtUp);
      if (page.offset > state.offset) {
        state.offset = page.offset;
        state.lastKey = 0;
      }
    } catch (error) {
      this.logger.warn(`catching up ${state.name} failed: ${(error as Error).message}`);
      setTimeout(() => {
        if (this.channels.get(state.name) === state) void this.catchUp(state);
      }, CATCH_UP_RETRY_MS).unref();
      return;
    } finally {
      state.catchingUp = false;
    }
    this.drainHeld(state);
  }

  private deliver(state: ChannelState, message: ChannelMessage): void {
    state.offset = message.offset;
    state.epoch = message.epoch;
    state.lastKey = notificationKey(message.data);
    if (message.publishedAt !== undefined)
      this.metrics.deliveryLag.observe((Date.now() - message.publishedAt) / 1000);
    if (state.members.size === 0) return;
    // One frame, made once, the same bytes written to every member.
    const frame = textFrame(notificationFrame(message.data));
    let written = 0;
    let next: Membership | null;
    for (let membership = state.members.first; membership; membership = next) {
      next = membership.nextOnChannel;
      if (membership.pending) membership.pending.push(message);
      else if (this.writeTo(membership.connection, membership, message, frame)) written += 1;
    }
    if (written > 0) this.metrics.deliveredOf[state.kind].inc(written);
  }

  private writeTo(
    connection: Connection,
    membership: Membership,
    message: ChannelMessage,
    frame: Buffer,
  ): boolean {
    if (message.epoch === membership.epoch && message.offset <= membership.offset) return false;
    membership.offset = message.offset;
    membership.epoch = message.epoch;
    try {
      connection.write(frame);
      return true;
    } catch (error) {
      // One broken socket never stops delivery to the others.
      this.logger.warn(`write to connection ${connection.id} failed: ${(error as Error).message}`);
      return false;
    }
  }

  /**
   * The engine stored a different message at an offset this replica already dispatched, or is behind
   * that offset, in the same epoch: it lost writes that were delivered (a Redis crash between AOF
   * fsyncs) and is reusing their offsets, which clients would drop as duplicates. Ending the channel's
   * life makes its next message start a new epoch, so every client learns of the loss
   * (`recovered: false`) instead. Retried while the engine is unreachable.
   */
  private async offsetsReused(state: ChannelState): Promise<void> {
    if (state.endingLife) return;
    state.endingLife = true;
    try {
      const ended = await this.broker.endLife(state.name, state.epoch);
      this.logger.warn(
        `${state.name}: the engine reused offsets up to ${state.offset} of epoch ${state.epoch} ` +
          `(it lost delivered notifications)${ended ? '; a new epoch starts with the next notification' : ''}`,
      );
      if (ended) this.metrics.historyLosses.inc();
    } catch (error) {
      this.logger.warn(`ending ${state.name}'s history life failed: ${(error as Error).message}`);
      setTimeout(() => {
        if (this.channels.get(state.name) === state) void this.offsetsReused(state);
      }, CATCH_UP_RETRY_MS).unref();
    } finally {
      state.endingLife = false;
    }
  }

  /** After the engine's subscription link came back: fill every channel's gap from history. */
  private resync(): void {
    this.logger.log(`subscription link restored; catching up ${this.channels.size} channels`);
    for (const state of this.channels.values()) void this.catchUp(state);
  }
}

/**
 * A 32-bit FNV-1a hash of a message's notification id (the data starts `{"id":"…"`): enough to tell
 * two notifications at one offset apart without keeping either in memory. 0 is kept for "unknown".
 */
export function notificationKey(data: string): number {
  const end = data.indexOf(',');
  let hash = 0x811c9dc5;
  for (let i = 0; i < end; i++) {
    hash ^= data.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0 || 1;
}
