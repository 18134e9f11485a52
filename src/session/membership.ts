import type { ChannelMessage, ChannelPosition } from '../broker/broker';
import type { Session } from './session';
import type { OutgoingNotification } from './transport';

/**
 * Where one session stands on one channel, and its replay → live switch. A membership is on two lists
 * at once, its channel's ({@link MemberList}) and its session's, linked through its own fields: an idle
 * session then costs two small objects rather than a Map of its own and an entry in a Map per channel.
 *
 * While the session is joining or recovering the channel, live notifications are held here instead of
 * being written ({@link hold}); {@link goLive} then returns those newer than the position the client
 * was given (or replayed up to), so the replay and the live stream meet with no gap and no duplicate.
 */
export class Membership {
  /** The last offset (in `epoch`) written to this session on the channel. */
  offset = 0;
  epoch = '';
  /** Live notifications held while joining; null once live. */
  private held: OutgoingNotification[] | null = [];
  /** The notification text held (UTF-16 code units), counted in the session's too. */
  private heldSize = 0;
  /** Bumped by each rejoin: a replay of an earlier join stops when it sees a newer one. */
  generation = 0;
  /** The channel's member list this membership is on; null once removed from it. */
  list: MemberList | null = null;
  previousOnChannel: Membership | null = null;
  nextOnChannel: Membership | null = null;
  /** The next membership of the same session (see Session.memberships). */
  nextOfSession: Membership | null = null;

  constructor(
    readonly session: Session,
    readonly channel: string,
  ) {}

  /** True while live notifications are held (joining, recovering, replaying). */
  get joining(): boolean {
    return this.held !== null;
  }

  /** Holds live notifications again (a recovery subscribe of a channel the session is on). */
  rejoin(): void {
    this.held ??= [];
    this.generation += 1;
  }

  hold(notification: OutgoingNotification): void {
    if (!this.held) return;
    this.held.push(notification);
    const size = notification.message.data.length;
    this.heldSize += size;
    this.session.heldBytes += size;
  }

  /**
   * Switches to live delivery from `position` (what the client was told, or replayed up to) and
   * returns what was held, in arrival order: the caller writes each one that {@link advance} accepts,
   * so the position moves with each write (an SSE event id never names an offset not yet written).
   */
  goLive(position: ChannelPosition): OutgoingNotification[] {
    const held = this.held ?? [];
    this.dropHeld();
    this.offset = position.offset;
    this.epoch = position.epoch;
    return held;
  }

  /** Forgets what is held (the session left the channel, or goes live). */
  dropHeld(): void {
    this.held = null;
    this.session.heldBytes -= this.heldSize;
    this.heldSize = 0;
  }

  /** Records that `message` is written next; false when the client already has it (an older offset). */
  advance(message: ChannelMessage): boolean {
    if (message.epoch === this.epoch && message.offset <= this.offset) return false;
    this.offset = message.offset;
    this.epoch = message.epoch;
    return true;
  }
}

/** One channel's members on this replica: add and remove in O(1), in no particular order. */
export class MemberList {
  first: Membership | null = null;
  size = 0;

  add(membership: Membership): void {
    membership.list = this;
    membership.previousOnChannel = null;
    membership.nextOnChannel = this.first;
    if (this.first) this.first.previousOnChannel = membership;
    this.first = membership;
    this.size += 1;
  }

  /** Takes the membership off this list; false when it was not on it. */
  remove(membership: Membership): boolean {
    if (membership.list !== this) return false;
    const { previousOnChannel: previous, nextOnChannel: next } = membership;
    if (previous) previous.nextOnChannel = next;
    else this.first = next;
    if (next) next.previousOnChannel = previous;
    membership.list = null;
    membership.previousOnChannel = null;
    membership.nextOnChannel = null;
    this.size -= 1;
    return true;
  }
}
