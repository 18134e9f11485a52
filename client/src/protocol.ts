/**
 * Herald v1 wire protocol, as the client sees it. Every frame in both directions is one JSON text frame
 * `{"event": string, "data": object}`. Types only: nothing here exists at run time.
 */

/** Codes of `error` frames; the connection stays open after one. */
export type ServerErrorCode = 'bad_request' | 'forbidden' | 'too_many_subscriptions' | 'internal';

/** A position in one channel's history: `offset` counts 1, 2, 3… within one `epoch`. */
export interface ChannelPosition {
  offset: number;
  epoch: string;
}

export interface NotificationData extends ChannelPosition {
  /** UUID of the publish; the same on every channel it went to. */
  id: string;
  channel: string;
  type: string;
  payload: unknown;
  /** ISO-8601 UTC. */
  createdAt: string;
}

export interface ServerEvents {
  ready: { connectionId: string; userId: string; channels: string[]; heartbeatMs: number };
  notification: NotificationData;
  /** `offset` is the newest offset in the channel when the server joined this connection to it. */
  subscribed: { channel: string; offset: number; epoch: string; recovered: boolean };
  unsubscribed: { channel: string };
  error: { code: ServerErrorCode; message: string; channel?: string };
  pong: Record<string, never>;
  /** `exp` in seconds since the Unix epoch, as in the JWT. */
  refreshed: { exp: number };
}

export interface ClientEvents {
  /** With `offset` and `epoch`: recover, i.e. replay every stored notification after `offset`. */
  subscribe: { channel: string; offset?: number; epoch?: string };
  unsubscribe: { channel: string };
  ping: Record<string, never>;
  refresh: { token: string };
}

export type ServerFrame = {
  [E in keyof ServerEvents]: { event: E; data: ServerEvents[E] };
}[keyof ServerEvents];
