import type { ServerResponse } from 'node:http';
import type { ChannelPosition } from '../broker/broker';
import type { Disconnect } from '../common/close-codes';
import type { ServerEvent, ServerEvents } from '../protocol/wire';
import type { Session } from '../session/session';
import { drained, type OutgoingNotification, type Transport } from '../session/transport';
import { encodeEventId } from './sse-event-id';

/** How long an ended stream may take to flush before its socket is cut (a stalled client). */
const END_GRACE_MS = 5000;

/** The reconnection delay EventSource is told in the stream's first line, in ms. */
export const SSE_RETRY_MS = 1000;

/**
 * One Server-Sent Events stream as a session's way out (`text/event-stream`): each server event is an
 * SSE event of the same name whose `data:` is the WebSocket frame's data, on one line (JSON has no raw
 * newline). `notification` and `subscribed` events carry an `id:` naming the stream's position on
 * every channel (see sse-event-id.ts), which EventSource sends back as `Last-Event-ID` when it
 * reconnects. A notification's `event:`/`data:` lines are encoded once for every SSE stream; only the
 * short `id:` line is each stream's own.
 */
export class SseTransport implements Transport {
  readonly kind = 'sse';
  readonly bidirectional = false;
  readonly closeCode = undefined;

  constructor(private readonly response: ServerResponse) {
    response.write(`retry: ${SSE_RETRY_MS}\n\n`);
  }

  get isOpen(): boolean {
    return !this.response.writableEnded && !this.response.destroyed;
  }

  get bufferedBytes(): number {
    return this.response.writableLength + (this.response.socket?.writableLength ?? 0);
  }

  send<E extends Exclude<ServerEvent, 'notification'>>(
    event: E,
    data: ServerEvents[E],
    session: Session,
  ): boolean {
    const idLine =
      event === 'subscribed' ? `id: ${eventId(session, data as ServerEvents['subscribed'])}\n` : '';
    return this.write(`${idLine}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  writeNotification(notification: OutgoingNotification, session: Session): boolean {
    notification.sse ??= Buffer.from(`event: notification\ndata: ${notification.message.data}\n\n`);
    if (!this.isOpen) return false;
    this.response.cork();
    this.response.write(`id: ${eventId(session)}\n`);
    const writable = this.response.write(notification.sse);
    process.nextTick(uncork, this.response);
    return writable;
  }

  whenWritable(): Promise<void> {
    return this.isOpen ? drained(this.response) : Promise.resolve();
  }

  /** A comment line: proxies and the client see the stream alive. */
  ping(): void {
    this.write(': ping\n\n');
  }

  /** Ends the stream, after an `error` event when the disconnect has one (token expiry). */
  close(disconnect: Disconnect): void {
    if (!this.isOpen) return;
    if (disconnect.sseError) {
      this.write(
        `event: error\ndata: ${JSON.stringify({ code: disconnect.sseError, message: disconnect.reason })}\n\n`,
      );
    }
    this.response.end();
    setTimeout(() => this.response.destroy(), END_GRACE_MS).unref();
  }

  terminate(): void {
    this.response.destroy();
  }

  private write(text: string): boolean {
    if (!this.isOpen) return false;
    return this.response.write(text);
  }
}

function uncork(response: ServerResponse): void {
  response.uncork();
}

/**
 * The stream's positions now. A plain `subscribed` answer tells the client its position on that
 * channel, which the membership takes only once it goes live, just after; a recovery's membership
 * already stands at the position recovered from, and the replay moves it on.
 */
function eventId(session: Session, answered?: ServerEvents['subscribed']): string {
  const plain = answered && !answered.recovered ? answered : undefined;
  const positions: [string, ChannelPosition][] = [];
  for (const { channel, offset, epoch } of session.memberships()) {
    if (plain?.channel === channel) positions.push([channel, plain]);
    else if (epoch !== '') positions.push([channel, { offset, epoch }]);
  }
  return encodeEventId(positions);
}
