import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import { notificationFrame } from '../broker/notification-encoding';
import type { Disconnect } from '../common/close-codes';
import type { ServerEvent, ServerEvents } from '../protocol/wire';
import { drained, type OutgoingNotification, type Transport } from '../session/transport';
import { encodeFrame } from './protocol';
import { textFrame } from './ws-frame';

/** How long a peer gets to answer our close frame before its socket is cut. */
const CLOSE_HANDSHAKE_MS = 5000;

/**
 * One client WebSocket as a session's way out. Every data frame goes to the TCP stream under `ws` as a
 * complete frame (which `ws` leaves alone: it sends nothing of its own but control frames, pings and
 * the close), so a notification is framed once for all its sockets. That is safe because `ws` never
 * holds a partly sent message here (no compression, no fragments).
 */
export class WebSocketTransport implements Transport {
  readonly kind = 'websocket';
  readonly bidirectional = true;
  closeCode: number | undefined;

  /** @param stream the TCP stream under `socket` (the upgrade request's socket) */
  constructor(
    private readonly socket: WebSocket,
    private readonly stream: Duplex,
  ) {}

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Counts what we wrote to the stream too: it queues there, under ws. */
  get bufferedBytes(): number {
    return this.socket.bufferedAmount;
  }

  send<E extends Exclude<ServerEvent, 'notification'>>(event: E, data: ServerEvents[E]): boolean {
    return this.writeFrame(textFrame(encodeFrame(event, data)));
  }

  writeNotification(notification: OutgoingNotification): boolean {
    notification.websocket ??= textFrame(notificationFrame(notification.message.data));
    return this.writeFrame(notification.websocket);
  }

  whenWritable(): Promise<void> {
    return this.isOpen ? drained(this.stream) : Promise.resolve();
  }

  ping(): void {
    if (this.isOpen) this.socket.ping();
  }

  /**
   * Starts the closing handshake; a peer that does not finish it within CLOSE_HANDSHAKE_MS (a dead or
   * stalled client: heartbeat timeout, slow consumer) is cut, so its buffers are freed.
   */
  close({ code, reason }: Disconnect): void {
    if (this.socket.readyState !== WebSocket.OPEN && this.socket.readyState !== WebSocket.CONNECTING) return;
    this.socket.close(code, reason);
    setTimeout(() => this.socket.terminate(), CLOSE_HANDSHAKE_MS).unref();
  }

  terminate(): void {
    this.socket.terminate();
  }

  private writeFrame(frame: Buffer): boolean {
    if (!this.isOpen) return false;
    return this.stream.write(frame);
  }
}
