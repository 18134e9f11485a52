import type { Writable } from 'node:stream';
import type { ChannelMessage } from '../broker/broker';
import type { Disconnect } from '../common/close-codes';
import type { ServerEvent, ServerEvents } from '../protocol/wire';
import type { Session } from './session';

export type TransportKind = 'websocket' | 'sse';

/**
 * A notification on its way to this replica's sessions. Each transport kind encodes it at most once
 * (into its slot here) and writes the same bytes to every one of its sockets.
 */
export class OutgoingNotification {
  /** The complete WebSocket text frame. */
  websocket: Buffer | undefined;
  /** The `event:` and `data:` lines of the SSE event (the `id:` line is each stream's own). */
  sse: Buffer | undefined;

  constructor(readonly message: ChannelMessage) {}
}

/**
 * A way out to one client, and nothing more (after Centrifuge's `Transport`): it writes what the
 * session gives it and reports its liveness and backpressure. Every rule of the session — channels,
 * permissions, recovery, expiry — lives in the session layer, once for every transport. Reading
 * client frames is the WebSocket endpoint's business.
 *
 * `send` and `writeNotification` return false when the socket's buffer is full (the client reads
 * slower than the server writes): a paced writer then waits for {@link whenWritable}.
 */
export interface Transport {
  readonly kind: TransportKind;
  /** True when the client's own frames and pongs prove it alive (WebSocket); SSE only receives. */
  readonly bidirectional: boolean;
  readonly isOpen: boolean;
  /** The close code the client's side of a finished close carried (WebSocket; 1006 when it dropped). */
  readonly closeCode: number | undefined;
  /** Bytes written to the socket and not yet sent. */
  readonly bufferedBytes: number;
  send<E extends Exclude<ServerEvent, 'notification'>>(
    event: E,
    data: ServerEvents[E],
    session: Session,
  ): boolean;
  writeNotification(notification: OutgoingNotification, session: Session): boolean;
  /** Resolves once the socket's buffer has drained, or the socket closed. */
  whenWritable(): Promise<void>;
  /** A keepalive the client can see (WebSocket ping, SSE comment line). */
  ping(): void;
  /** Ends the session the transport's way; a peer that does not finish closing is cut after a grace period. */
  close(disconnect: Disconnect): void;
  /** Cuts the socket at once. */
  terminate(): void;
}

/** Resolves once `stream` has drained what it buffered, or closed (the transports' `whenWritable`). */
export function drained(stream: Writable): Promise<void> {
  if (stream.destroyed || !stream.writableNeedDrain) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
