import type { ChannelMessage } from '../broker/broker';
import type { Connection } from './connection';

/**
 * Where one connection stands on one channel. A membership is on two lists at once, its channel's
 * ({@link MemberList}) and its connection's, linked through its own fields: an idle connection then
 * costs two small objects rather than a Map of its own and an entry in a Map per channel.
 */
export class Membership {
  /** The last offset (in `epoch`) written to this connection on the channel. */
  offset = 0;
  epoch = '';
  /**
   * While the connection is joining or recovering the channel, live messages wait here instead of
   * being written, so that the replay and the live stream meet with no gap and no duplicate.
   */
  pending: ChannelMessage[] | null = [];
  /** The channel's member list this membership is on; null once removed from it. */
  list: MemberList | null = null;
  previousOnChannel: Membership | null = null;
  nextOnChannel: Membership | null = null;
  /** The next membership of the same connection (see Connection.memberships). */
  nextOfConnection: Membership | null = null;

  constructor(
    readonly connection: Connection,
    readonly channel: string,
  ) {}
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
