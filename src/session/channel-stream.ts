import type { ChannelMessage, ChannelPosition, HistoryPage } from '../broker/broker';

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
 * - Early in a new epoch, a notification dispatched among the last ones of the ended epoch is not
 *   dispatched again: a deposed master published it (its publish answered 503 and was retried) but
 *   the failover lost it, and the retry stored it in the new life.
 */
/** Notifications remembered per channel to recognise a repeat across an epoch change. */
const RECENT = 8;

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
  /** Keys of the last {@link RECENT} notifications dispatched, a ring ({@link recentNext} is the next slot). */
  private readonly recent = new Uint32Array(RECENT);
  private recentNext = 0;
  /** After a move into a new epoch: the ended epoch's last keys, and how many more messages are checked against them. */
  private endedKeys: Uint32Array | null = null;
  private endedChecks = 0;
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
      if (message.offset === this.offset + 1) {
        return this.advance(message) ? [message] : [];
      }
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
      this.endedKeys = this.recent.slice();
      this.endedChecks = 2 * RECENT;
      this.recent.fill(0);
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

  /** Moves past a message; false when it is not to be dispatched (see {@link isEndedLifeRepeat}). */
  private advance(message: ChannelMessage): boolean {
    this.offset = message.offset;
    this.epoch = message.epoch;
    this.lastKey = notificationKey(message.data);
    if (this.isEndedLifeRepeat(this.lastKey)) return false;
    this.recent[this.recentNext] = this.lastKey;
    this.recentNext = (this.recentNext + 1) % RECENT;
    return true;
  }

  /**
   * Whether one of the first messages of a new epoch is a notification dispatched last in the ended
   * one. Only the first 2 × {@link RECENT} are checked — the retries of a failover's lost publishes
   * come right after it — which also keeps the chance of two ids sharing a 32-bit key negligible.
   */
  private isEndedLifeRepeat(key: number): boolean {
    if (!this.endedKeys) return false;
    const repeat = this.endedKeys.includes(key);
    if (--this.endedChecks === 0) this.endedKeys = null;
    return repeat;
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
