/** WebSocket close codes the server uses; the contract's catalogue (docs/PROTOCOL.md). */
export const CloseCode = {
  /** Graceful shutdown or drain: reconnect (to another replica) and recover. */
  ServiceRestart: 1012,
  /** A client frame over 16 KiB (sent by `ws` itself through `maxPayload`). */
  FrameTooBig: 1009,
  /** The engine could not put the connection on its channels (Redis unavailable): reconnect with backoff. */
  InternalError: 1011,
  /** The token's `exp` passed: reconnect with a fresh token and recover. */
  TokenExpired: 4001,
  /** More unsent bytes than WS_MAX_BUFFERED_BYTES: reconnect and recover. */
  SlowConsumer: 4008,
  /** Silent for two heartbeat intervals: reconnect and recover. */
  HeartbeatTimeout: 4009,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Error codes carried by `error` frames. */
export type { ErrorCode } from '../protocol/wire';
