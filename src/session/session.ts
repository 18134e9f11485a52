import type { ClientIdentity } from '../auth/client-token';
import { Disconnect } from '../common/close-codes';
import type { ServerEvent, ServerEvents } from '../protocol/wire';
import type { Membership } from './membership';
import type { OutgoingNotification, Transport } from './transport';

const IDLE: Promise<void> = Promise.resolve();

/**
 * One client session on this replica, whatever carries it (WebSocket or SSE): who the client is, the
 * channels it is on, and its one way out. The rules that act on it live in {@link SessionService}
 * (what it may join, recovery, expiry, heartbeat) and {@link ChannelHub} (order and replay).
 */
export class Session {
  /** The channels this session is on, as a list through `Membership.nextOfSession`. */
  private firstMembership: Membership | null = null;
  /** ms since the epoch of the last frame or pong from the client (bidirectional transports). */
  lastSeen = Date.now();
  /** Live notifications held for this session while it joins or replays channels (UTF-16 units). */
  heldBytes = 0;
  /** How the server ended the session, if it did. */
  endedWith: Disconnect | undefined;
  /** Client requests are handled one at a time, in arrival order; IDLE when nothing is queued. */
  private queue: Promise<void> = IDLE;

  /** @param maxBufferedBytes more unsent bytes than this and the session is cut off (slow consumer) */
  constructor(
    readonly id: string,
    readonly transport: Transport,
    private currentIdentity: ClientIdentity,
    private readonly maxBufferedBytes: number,
  ) {}

  get identity(): ClientIdentity {
    return this.currentIdentity;
  }

  get userId(): string {
    return this.currentIdentity.userId;
  }

  get isOpen(): boolean {
    return this.transport.isOpen;
  }

  /** The token's `exp` has passed. */
  isExpired(now: number): boolean {
    return this.currentIdentity.expiresAt <= now;
  }

  /** Replaces the token (same user), moving the expiry. */
  refresh(identity: ClientIdentity): void {
    this.currentIdentity = identity;
  }

  /** Its membership of the channel; undefined when it is not on it. */
  membership(channel: string): Membership | undefined {
    for (let m = this.firstMembership; m; m = m.nextOfSession) if (m.channel === channel) return m;
    return undefined;
  }

  /** Every membership (a copy: leaving channels while going through it is fine). */
  memberships(): Membership[] {
    const all: Membership[] = [];
    for (let m = this.firstMembership; m; m = m.nextOfSession) all.push(m);
    return all;
  }

  /** Topics this session is on. */
  topicCount(): number {
    let count = 0;
    for (let m = this.firstMembership; m; m = m.nextOfSession) if (m.channel.startsWith('topic:')) count += 1;
    return count;
  }

  addMembership(membership: Membership): void {
    membership.nextOfSession = this.firstMembership;
    this.firstMembership = membership;
  }

  /** Takes the channel's membership off this session and returns it. */
  removeMembership(channel: string): Membership | undefined {
    let previous: Membership | null = null;
    for (let m = this.firstMembership; m; previous = m, m = m.nextOfSession) {
      if (m.channel !== channel) continue;
      if (previous) previous.nextOfSession = m.nextOfSession;
      else this.firstMembership = m.nextOfSession;
      m.nextOfSession = null;
      return m;
    }
    return undefined;
  }

  /** Sends a control event (`ready`, `subscribed`, `error`, …). */
  send<E extends Exclude<ServerEvent, 'notification'>>(event: E, data: ServerEvents[E]): void {
    if (!this.transport.isOpen) return;
    this.transport.send(event, data, this);
    this.checkBuffered();
  }

  /** Writes a live notification; false when the socket's buffer is full (see Transport). */
  write(notification: OutgoingNotification): boolean {
    if (!this.transport.isOpen) return false;
    const writable = this.transport.writeNotification(notification, this);
    this.checkBuffered();
    return writable;
  }

  /** A keepalive the client can see; a stalled client is noticed here too. */
  ping(): void {
    if (!this.transport.isOpen) return;
    this.transport.ping();
    this.checkBuffered();
  }

  /**
   * Cuts a session that falls too far behind: more than WS_MAX_BUFFERED_BYTES unsent, counting the
   * live notifications held for it while it joins or replays channels.
   */
  checkBuffered(): void {
    if (this.transport.bufferedBytes + this.heldBytes > this.maxBufferedBytes)
      this.close(Disconnect.SlowConsumer);
  }

  close(disconnect: Disconnect): void {
    if (!this.transport.isOpen) return;
    this.endedWith = disconnect;
    this.transport.close(disconnect);
  }

  /** Runs a task after every earlier one, so that answers leave in request order. */
  enqueue(task: () => Promise<void> | void): Promise<void> {
    const run = this.queue.then(task);
    const queued: Promise<void> = run.then(
      () => this.settle(queued),
      () => this.settle(queued),
    );
    this.queue = queued;
    return run;
  }

  /** An idle session holds no promise of its own. */
  private settle(queued: Promise<void>): void {
    if (this.queue === queued) this.queue = IDLE;
  }
}
