import type { Disconnect } from '../../src/common/close-codes';
import type { ServerEvent, ServerEvents } from '../../src/protocol/wire';
import type { Session } from '../../src/session/session';
import type { OutgoingNotification, Transport, TransportKind } from '../../src/session/transport';

export interface SentEvent {
  event: ServerEvent;
  data: Record<string, unknown>;
}

/**
 * A transport for unit tests of the session layer: it records what is sent, and can play a full
 * socket buffer (`full`: writes report backpressure until {@link drain}).
 */
export class FakeTransport implements Transport {
  readonly bidirectional: boolean;
  readonly closeCode = undefined;
  readonly events: SentEvent[] = [];
  /** Per notification written, the session's position on its channel at that moment (what an SSE id names). */
  readonly positionsAtWrite: number[] = [];
  open = true;
  full = false;
  bufferedBytes = 0;
  closedWith: Disconnect | undefined;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly kind: TransportKind = 'websocket') {
    this.bidirectional = kind === 'websocket';
  }

  get isOpen(): boolean {
    return this.open;
  }

  send<E extends Exclude<ServerEvent, 'notification'>>(event: E, data: ServerEvents[E]): boolean {
    this.events.push({ event, data: data });
    return !this.full;
  }

  writeNotification(notification: OutgoingNotification, session: Session): boolean {
    this.positionsAtWrite.push(session.membership(notification.message.channel)?.offset ?? -1);
    this.events.push({
      event: 'notification',
      data: JSON.parse(notification.message.data) as Record<string, unknown>,
    });
    return !this.full;
  }

  whenWritable(): Promise<void> {
    return this.full ? new Promise((resolve) => this.waiters.push(resolve)) : Promise.resolve();
  }

  /** The client read everything: writes are accepted again and paced writers go on. */
  drain(): void {
    this.full = false;
    this.waiters.splice(0).forEach((resolve) => resolve());
  }

  ping(): void {}

  close(disconnect: Disconnect): void {
    this.closedWith = disconnect;
    this.open = false;
  }

  terminate(): void {
    this.open = false;
  }

  of(event: ServerEvent): Record<string, unknown>[] {
    return this.events.filter((sent) => sent.event === event).map((sent) => sent.data);
  }
}
