import type { ChannelMessage, ChannelPosition, HistoryPage } from '../broker/broker';

/**
 * How many of the last notifications dispatched in an epoch a stream knows again in the next one: the
 * publishes in flight when a failover lost them are among the last ones, and their retries may land in
 * the new epoch (see the class comment).
 */
const ENDED_EPOCH_KEYS = 8;

/**
 * One channel's order on this replica, as a pure state machine: messages go in as the engine delivers
 * them (at most once, possibly with gaps), and come out exactly in offset order, each once, with no
 * gap. It does no I/O: when it needs history it says so ({@link needsCatchUp}, {@link catchUpAfter}),
 * and its owner reads the page and hands it to {@link caughtUp}.
 *
 * - Until its position is known ({@link synced}) every message is held.
 * - A message at the next offset of the current epoch goes out at once; an older one is a duplicate.
 * - A message that skips offsets, or comes in another epoch, is held and the stream needs a catch-up:
 *   history fills the gap (or, in a new epoch, gives the new life from its start), then the held
 *   messages that follow go out.
 * - A *different* notification at an offset already dispatched (same epoch), or history behind that
 *   offset, means the engine lost acknowledged writes and reuses offsets: {@link takeReusedOffsets}
 *   reports it once, so that the owner can end the channel's epoch.
 * - In a new epoch, a notification that was among the last {@link ENDED_EPOCH_KEYS} dispatched in the
 *   previous one is not dispatched again (its offset is passed over): a failover can lose a publish
 *   that was already delivered but not acknowledged, and the publisher's retry under the same
 *   Idempotency-Key — the same notification id — is then stored again, in the epoch that followed.
 */
export class ChannelStream {
  /** The last offset dispatched (within `epoch`). */
  offset = 0;
  epoch = '';
  private isSynced = false;
  private catchUpNeeded = false;
  /** During a catch-up into a new epoch: read that epoch's history from its start. */
  private readFromStart = false;
  /**
   * The notification at `offset` when this replica dispatched it ({@link notificationKey}; 0 when
   * the position was learnt otherwise, e.g. from a history read).
   */
  private lastKey = 0;
  /** The keys of the last notifications of this epoch (dispatched, or passed over as delivered before), oldest first. */
  private recentKeys: number[] = [];
  /** Keys of the previous epoch's last notifications not met again in this one (see the class comment). */
  private endedEpochKeys: number[] = [];
  private reusedOffsets = false;
  /** Messages that arrived while the position was unknown or a gap was open; ascending is not assumed. */
  private held: ChannelMessage[] | null = null;
  /**
   * How many of the held messages arrived before the current history read was sent (see
   * {@link markRead}): those were stored before the read ran, so one in an epoch other than the one the
   * read returns belongs to a life that has already ended — it is dropped rather than held again.
   */
  private heldBeforeRead = 0;

  /** @param maxHeld held messages beyond this drop the oldest (they are in history, which a catch-up reads) */
  constructor(private readonly maxHeld: number) {}

  get synced(): boolean {
    return this.isSynced;
  }

  /** True while messages wait for a history read (a gap, a new epoch). */
  get needsCatchUp(): boolean {
    return this.catchUpNeeded;
  }

  /** The offset the catch-up reads after. */
  get catchUpAfter(): number {
    return this.readFromStart ? 0 : this.offset;
  }

  /** The position dispatched so far; undefined until synced. */
  get position(): ChannelPosition | undefined {
    return this.isSynced ? { offset: this.offset, epoch: this.epoch } : undefined;
  }

  /** Call right before sending a history read (the position read of a sync, or a catch-up's). */
  markRead(): void {
    this.heldBeforeRead = this.held?.length ?? 0;
  }

  /** Learns the channel's position (newest offset now stored) and returns the held messages that follow it. */
  sync(position: ChannelPosition): ChannelMessage[] {
    this.offset = position.offset;
    this.epoch = position.epoch;
    this.lastKey = 0;
    this.isSynced = true;
    return this.releaseHeld(position.epoch);
  }

  /** A message from the engine; returns what to dispatch now, in order. */
  receive(message: ChannelMessage): ChannelMessage[] {
    if (!this.isSynced || this.catchUpNeeded) {
      this.hold(message);
      return [];
    }
    if (message.epoch === this.epoch) {
      if (
        message.offset === this.offset &&
        this.lastKey !== 0 &&
        notificationKey(message.data) !== this.lastKey
      ) {
        this.reusedOffsets = true;
        return [];
      }
      if (message.offset <= this.offset) return [];
      if (message.offset === this.offset + 1) return this.advance(message) ? [message] : [];
    }
    // Offsets skipped, or a new epoch (the history was lost and restarted): fill from history first.
    this.hold(message);
    this.catchUpNeeded = true;
    return [];
  }

  /**
   * After the engine's subscription link was lost and is back, messages may have been missed with no
   * later message to reveal the gap (a quiet channel): read history to be sure.
   */
  resync(): void {
    if (this.isSynced) this.catchUpNeeded = true;
  }

  /**
   * The history page read after {@link catchUpAfter}; returns what to dispatch now, in order. When the
   * page is of a new epoch, nothing is dispatched yet: the stream still needs a catch-up, from the
   * new epoch's start.
   */
  caughtUp(page: HistoryPage): ChannelMessage[] {
    if (!this.catchUpNeeded) return [];
    if (page.epoch !== this.epoch) {
      if (!this.readFromStart) {
        this.readFromStart = true;
        return [];
      }
      this.epoch = page.epoch;
      this.offset = page.messages.length > 0 ? page.messages[0].offset - 1 : page.offset;
      this.lastKey = 0;
      this.endedEpochKeys = this.recentKeys;
      this.recentKeys = [];
    } else if (page.offset < this.offset) {
      // The engine is behind what this replica dispatched, in the same epoch: it lost writes.
      this.reusedOffsets = true;
    }
    this.readFromStart = false;
    const dispatched: ChannelMessage[] = [];
    for (const message of page.messages) {
      if (message.offset > this.offset && this.advance(message)) dispatched.push(message);
    }
    if (page.epoch === this.epoch && page.offset > this.offset) {
      this.offset = page.offset;
      this.lastKey = 0;
    }
    this.catchUpNeeded = false;
    return dispatched.concat(this.releaseHeld(page.epoch));
  }

  /** True once after the stream saw the engine reuse offsets it had dispatched (see the class comment). */
  takeReusedOffsets(): boolean {
    const reused = this.reusedOffsets;
    this.reusedOffsets = false;
    return reused;
  }

  /**
   * Moves the position to the message (of the current epoch); false when it is not to be dispatched,
   * being one the previous epoch dispatched already.
   */
  private advance(message: ChannelMessage): boolean {
    const key = notificationKey(message.data);
    this.offset = message.offset;
    this.epoch = message.epoch;
    this.lastKey = key;
    if (this.recentKeys.push(key) > ENDED_EPOCH_KEYS) this.recentKeys.shift();
    const ended = this.endedEpochKeys.indexOf(key);
    if (ended < 0) return true;
    this.endedEpochKeys.splice(ended, 1);
    return false;
  }

  private hold(message: ChannelMessage): void {
    this.held ??= [];
    if (this.held.length >= this.maxHeld) {
      this.held.shift();
      if (this.heldBeforeRead > 0) this.heldBeforeRead -= 1;
    }
    this.held.push(message);
  }

  /** Runs the held messages through {@link receive} again, without those of an ended life (see heldBeforeRead). */
  private releaseHeld(readEpoch: string): ChannelMessage[] {
    const held = this.held;
    const beforeRead = this.heldBeforeRead;
    this.held = null;
    this.heldBeforeRead = 0;
    if (!held) return [];
    const dispatched: ChannelMessage[] = [];
    held.forEach((message, i) => {
      if (i < beforeRead && message.epoch !== readEpoch) return;
      for (const next of this.receive(message)) dispatched.push(next);
    });
    return dispatched;
  }
}

/**
 * A 53-bit hash of a message's notification id (the data starts `{"id":"…"`), from two 32-bit lanes
 * (FNV-1a, and the same with another basis and prime): enough to know a notification again without
 * keeping it in memory. A false match passes over a notification in a new epoch, hence more than 32
 * bits. 0 is kept for "unknown".
 */
export function notificationKey(data: string): number {
  const end = data.indexOf(',');
  let high = 0x811c9dc5;
  let low = 0x050c5d1f;
  for (let i = 0; i < end; i++) {
    const code = data.charCodeAt(i);
    high = Math.imul(high ^ code, 0x01000193);
    low = Math.imul(low ^ code, 0x5bd1e995);
  }
  return (high >>> 0) * 0x200000 + (low >>> 11) || 1;
}
