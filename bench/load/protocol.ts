import type { HistogramData } from '../support/histogram';

/**
 * How a load-generator client talks to one system. Herald and the floor share one wire format
 * (`{"event","data"}` JSON frames); the peer speaks Socket.IO v4 over a plain WebSocket, implemented in
 * the load generator itself (see dialects.ts) so that every system's clients do the same small work.
 */
export type Dialect = 'herald' | 'socketio';

export interface ClientSpec {
  dialect: Dialect;
  /**
   * - `jwt-query`: HS256 token in `?access_token=` (Herald)
   * - `jwt-connect`: HS256 token in the Socket.IO CONNECT packet's auth, `{ token }` (peer)
   * - `user-query`: no auth, the user id in `?user=` (floor)
   */
  auth: 'jwt-query' | 'jwt-connect' | 'user-query';
  jwtSecret: string;
  /** One WebSocket endpoint per replica, e.g. `ws://127.0.0.1:20001/v1/ws`. */
  endpoints: string[];
}

/** A connection to open: [user id, replica index]. */
export type ConnectionPlan = Array<[string, number]>;

export interface OpenArgs {
  client: ClientSpec;
  connections: ConnectionPlan;
  /** Topic to subscribe to once ready (the connection counts as open when `subscribed` arrives). */
  topic?: string;
  /** Handshakes in flight at once in this worker. */
  window: number;
  /** Longest wait for one connection's `ready` (and `subscribed`). */
  timeoutMs: number;
  /**
   * Loopback address the connections are made from (127.1.x.y, one per load-generator process).
   * Linux's connect() picks a local port of one parity first, ~14,000 of them; past that, with every
   * connection to the same destination, each connect scans them all and gets ~10× slower, which would
   * make P5 measure the load generator's kernel, not the server.
   */
  localAddress?: string;
}

export interface OpenReport {
  opened: number;
  errors: number;
  errorSamples: string[];
  /** Monotonic ms (see clock.ts) when the first handshake began and when the last one completed. */
  startedAt: number;
  lastOpenAt: number;
}

export interface RecordArgs {
  /** Also track, per distinct payload `t`, how many connections got it and when the last did (P2). */
  rounds: boolean;
}

export interface CountReport {
  received: number;
  lastReceivedAt: number;
}

export interface AwaitRoundArgs {
  t: number;
  timeoutMs: number;
}

export interface RoundReport {
  /** Connections that got the notification stamped `t`, out of `expected` (this worker's open ones). */
  received: number;
  expected: number;
  lastReceivedAt: number;
}

export interface DeliveryReport {
  received: number;
  /** Notifications received per user id. */
  perUser: Record<string, number>;
  latency: HistogramData;
  lastReceivedAt: number;
  /** Connections closed by the server after they were open. */
  dropped: number;
  dropSamples: string[];
  /** `error` frames received. */
  errorFrames: number;
}

export interface PublishArgs {
  /** Publish endpoint per lane, used round-robin: lane k posts to urls[k % urls.length]. */
  urls: string[];
  apiKey: string;
  /** Requests in flight (closed loop). */
  inFlight: number;
  durationMs: number;
  maxRequests: number;
  /** Each notification goes to one user picked at random from these. */
  users: string[];
  /** 0: one notification per request to the single endpoint; n: n per request to the batch endpoint. */
  batchSize: number;
}

export interface PublishReport {
  requests: number;
  /** Notifications accepted (202, and for a batch: the items without an error). */
  accepted: number;
  errors: number;
  errorSamples: string[];
  /** Accepted notifications per user id: what the clients must receive. */
  expected: Record<string, number>;
  startedAt: number;
  endedAt: number;
  /** Request round-trip times. */
  rtt: HistogramData;
  /** The batch endpoint answered 404 (not implemented). */
  notFound: boolean;
}

/** Every command a load-generator worker understands, with its arguments and its result. */
export interface CommandMap {
  open: { args: OpenArgs; result: OpenReport };
  record: { args: RecordArgs; result: null };
  count: { args: null; result: CountReport };
  awaitRound: { args: AwaitRoundArgs; result: RoundReport };
  report: { args: null; result: DeliveryReport };
  publish: { args: PublishArgs; result: PublishReport };
  close: { args: null; result: null };
}

export type CommandKind = keyof CommandMap;

export type Request = {
  [K in CommandKind]: { id: number; kind: K; args: CommandMap[K]['args'] };
}[CommandKind];

export type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
