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

/**
 * Why the server ends a session, whatever its transport: a WebSocket closes with `code`; an SSE stream
 * ends (after an `error` event with `sseError`, when there is one). `cutOff` labels the cut-off metric.
 */
export interface Disconnect {
  code: CloseCode;
  reason: string;
  sseError?: 'token_expired';
  cutOff?: 'slow_consumer' | 'heartbeat' | 'token_expired';
}

/** The catalogue of server-side disconnects. */
export const Disconnect = {
  ServiceRestart: { code: CloseCode.ServiceRestart, reason: 'service restart' },
  EngineUnavailable: { code: CloseCode.InternalError, reason: 'engine unavailable, retry' },
  TokenExpired: {
    code: CloseCode.TokenExpired,
    reason: 'token expired',
    sseError: 'token_expired',
    cutOff: 'token_expired',
  },
  SlowConsumer: { code: CloseCode.SlowConsumer, reason: 'slow consumer', cutOff: 'slow_consumer' },
  HeartbeatTimeout: { code: CloseCode.HeartbeatTimeout, reason: 'heartbeat timeout', cutOff: 'heartbeat' },
} as const satisfies Record<string, Disconnect>;
