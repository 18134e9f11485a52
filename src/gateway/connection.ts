import type { Duplex } from 'node:stream';
import WebSocket, { RawData } from 'ws';
import { ClientIdentity } from '../auth/client-token';
import { CloseCode } from '../common/close-codes';
import { encodeFrame, ServerEvents } from './protocol';
import { Membership } from './membership';
import { textFrame } from './ws-frame';

/** What the owner of the connections (the gateway) hears about them. */
export interface ConnectionEvents {
  /** A client frame arrived. */
  frame(connection: Connection, data: RawData, isBinary: boolean): void;
  /** The socket closed; `closeCode` is set. */
  closed(connection: Connection): void;
}

/** How long a peer gets to answer our close frame before its socket is cut. */
const CLOSE_HANDSHAKE_MS = 5000;

const IDLE: Promise<void> = Promise.resolve();

const bySocket = new WeakMap<WebSocket, Connection>();

// The socket listeners are shared by every connection (`this` is the socket): closures made per
// connection would cost memory for as long as it stays open, idle or not.

function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  const connection = bySocket.get(this);
  if (!connection) return;
  connection.lastSeen = Date.now();
  connection.events.frame(connection, data, isBinary);
}

function onPong(this: WebSocket): void {
  const connection = bySocket.get(this);
  if (connection) connection.lastSeen = Date.now();
}

function onClose(this: WebSocket, code: number): void {
  const connection = bySocket.get(this);
  if (!connection) return;
  bySocket.delete(this);
  connection.closeCode = code;
  connection.events.closed(connection);
}

/**
 * One client WebSocket. Every data frame the server sends leaves through {@link send} or
 * {@link write}, as complete frames written to the TCP stream under `ws` (which sends nothing of its
 * own but control frames: pings and the close): a notification is framed once for all its sockets.
 * That is safe because `ws` never holds a partly sent message here (no compression, no fragments).
 */
export class Connection {
  /** The channels this connection is on, as a list through `Membership.nextOfConnection`. */
  private firstMembership: Membership | null = null;
  /** ms since the epoch of the last frame or pong from the client. */
  lastSeen = Date.now();
  /** The code this server closed the connection with, if it did. */
  closedWith: CloseCode | undefined;
  /** The close code of the finished closing handshake (1006 when the socket just dropped). */
  closeCode: number | undefined;
  /** Client frames are handled one at a time, in arrival order; IDLE when nothing is queued. */
  private queue: Promise<void> = IDLE;

  /**
   * @param stream the TCP stream under `socket` (the upgrade request's socket)
   * @param maxBufferedBytes more unsent bytes than this and the connection is closed with 4008
   * @param events told of the socket's frames and of its close
   */
  constructor(
    readonly id: string,
    private readonly socket: WebSocket,
    private readonly stream: Duplex,
    private currentIdentity: ClientIdentity,
    private readonly maxBufferedBytes: number,
    readonly events: ConnectionEvents,
  ) {
    bySocket.set(socket, this);
    socket.on('message', onMessage);
    socket.on('pong', onPong);
    socket.on('close', onClose);
  }

  /** Its membership of the channel; undefined when it is not on it. */
  membership(channel: string): Membership | undefined {
    for (let m = this.firstMembership; m; m = m.nextOfConnection) if (m.channel === channel) return m;
    return undefined;
  }

  /** Every membership (a copy: leaving channels while going through it is fine). */
  memberships(): Membership[] {
    const all: Membership[] = [];
    for (let m = this.firstMembership; m; m = m.nextOfConnection) all.push(m);
    return all;
  }

  addMembership(membership: Membership): void {
    membership.nextOfConnection = this.firstMembership;
    this.firstMembership = membership;
  }

  /** Takes the channel's membership off this connection and returns it. */
  removeMembership(channel: string): Membership | undefined {
    let previous: Membership | null = null;
    for (let m = this.firstMembership; m; previous = m, m = m.nextOfConnection) {
      if (m.channel !== channel) continue;
      if (previous) previous.nextOfConnection = m.nextOfConnection;
      else this.firstMembership = m.nextOfConnection;
      m.nextOfConnection = null;
      return m;
    }
    return undefined;
  }

  get identity(): ClientIdentity {
    return this.currentIdentity;
  }

  get userId(): string {
    return this.currentIdentity.userId;
  }

  /** The token's `exp` has passed (the heartbeat's expiry sweep closes it with 4001). */
  isExpired(now: number): boolean {
    return this.currentIdentity.expiresAt <= now;
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  send<E extends keyof ServerEvents>(event: E, data: ServerEvents[E]): void {
    this.write(textFrame(encodeFrame(event, data)));
  }

  /**
   * Writes a complete text frame (see {@link textFrame}); a connection that falls too far behind is
   * cut off (4008). `bufferedAmount` counts these bytes: they queue on the same stream.
   */
  write(frame: Buffer): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    this.stream.write(frame);
    if (this.socket.bufferedAmount > this.maxBufferedBytes) {
      this.close(CloseCode.SlowConsumer, 'slow consumer');
    }
  }

  /**
   * Starts the closing handshake; a peer that does not finish it within CLOSE_HANDSHAKE_MS (a dead or
   * stalled client: heartbeat timeout, slow consumer) is cut, so its buffers are freed.
   */
  close(code: CloseCode, reason: string): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.closedWith = code;
      this.socket.close(code, reason);
      setTimeout(() => this.socket.terminate(), CLOSE_HANDSHAKE_MS).unref();
    }
  }

  terminate(): void {
    this.socket.terminate();
  }

  ping(): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.ping();
  }

  /** Replaces the token (same user), moving the 4001 expiry. */
  refresh(identity: ClientIdentity): void {
    this.currentIdentity = identity;
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

  /** An idle connection holds no promise of its own. */
  private settle(queued: Promise<void>): void {
    if (this.queue === queued) this.queue = IDLE;
  }
}
