/**
 * Herald client SDK. One WebSocket (or one Server-Sent Events stream) to a Herald server; every
 * notification the server accepted for this user reaches the app once and, per channel, in offset order —
 * across reconnects, server restarts and token expiry. Zero dependencies: runs in browsers (global
 * WebSocket / EventSource) and Node (pass the `ws` package, or the `eventsource` package).
 *
 * Kept in one runtime file so the ES module build loads in a browser without a bundler.
 */
import type {
  AckBody,
  ChannelPosition,
  ClientEvents,
  ErrorCode as ServerErrorCode,
  NotificationData,
  PushSubscriptionBody,
  PushSubscriptionCreated,
  ServerEvents,
  ServerFrame,
  VapidPublicKeyResponse,
} from './wire.js';

export type {
  ChannelPosition,
  ErrorCode as ServerErrorCode,
  NotificationData,
  PushMessage,
  PushSubscriptionCreated,
} from './wire.js';

/** A notification as delivered to the app, with `payload` typed after its `type`. */
export interface HeraldNotification<
  TType extends string = string,
  TPayload = unknown,
> extends NotificationData {
  type: TType;
  payload: TPayload;
}

/**
 * The union of notifications an app receives, from a map of `type` to payload type, e.g.
 * `{ 'order.shipped': { orderId: number } }`. The SDK does not validate payloads: the map is the app's
 * statement of what its publishers send.
 */
export type NotificationOf<TPayloads extends object> = {
  [TType in keyof TPayloads & string]: HeraldNotification<TType, TPayloads[TType]>;
}[keyof TPayloads & string];

/** Errors found by the SDK itself, besides the server's `error` frame codes. */
export type ClientErrorCode =
  | 'unauthorized' // the server refused the token (HTTP 401 before the upgrade or stream); the SDK gave up
  | 'token_expired' // a fixed `token` expired and there is no `getToken`; the SDK gave up
  | 'token_unavailable' // `getToken()` threw or rejected; the SDK retries
  | 'frame_too_big' // the server closed with 1009; the SDK gave up
  | 'connection_failed' // the WebSocket or EventSource could not be created; the SDK retries
  | 'stream_refused' // SSE, where the status is visible (Node): 400 or 403, a malformed or forbidden topic; the SDK retries
  | 'bad_frame' // the server sent a frame that is not `{event, data}` JSON text; it was ignored
  | 'ack_failed'; // SSE: `POST /v1/acks` was refused (4xx); those ids stay unacknowledged

export interface HeraldError {
  code: ServerErrorCode | ClientErrorCode;
  message: string;
  channel?: string;
}

export type HeraldConnectionState =
  | 'connecting' // opening a socket, or waiting for `ready` and the first `subscribed` answers
  | 'recovering' // `ready` after a reconnect; recovery subscribes await their `subscribed` answers
  | 'connected' // every channel's subscribe is answered; replays follow their answers
  | 'disconnected' // waiting to reconnect
  | 'closed'; // `close()` was called or the SDK gave up; it will not reconnect

export interface HeraldClientEvents<TPayloads extends object = Record<string, unknown>> {
  notification: NotificationOf<TPayloads>;
  /** `attempt`: 1 for the first try after a working connection (or the very first), then 2, 3… */
  connecting: { attempt: number };
  connected: { connectionId: string; userId: string };
  recovering: { channels: string[] };
  /**
   * `willReconnect: false` means the state is now `closed`. Codes 1006 and below are not sent by the server.
   * SSE has no close codes: 4001 stands for the token's expiry, 1006 for any other end of the stream.
   */
  disconnected: { code: number; reason: string; willReconnect: boolean };
  /** The server no longer had this channel's history since the last delivered notification: reload state. */
  unrecovered: { channel: string };
  error: HeraldError;
}

/** What the SDK needs of a WebSocket; the browser's `WebSocket` and the `ws` package both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: 'error', listener: () => void): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/**
 * An SSE event as the SDK reads it: a server event (`data`, and `lastEventId`, the event's `id:`) or,
 * for `error` without `data`, EventSource's own failure (`code`: the HTTP status, where it is visible).
 */
export interface EventSourceEventLike {
  readonly data?: unknown;
  readonly lastEventId?: string;
  readonly code?: number;
}

/** What the SDK needs of an EventSource; the browser's `EventSource` and the `eventsource` package's both fit. */
export interface EventSourceLike {
  /** 0 connecting (also while reconnecting by itself), 1 open, 2 closed (refused, or `close()`). */
  readonly readyState: number;
  close(): void;
  addEventListener(type: string, listener: (event: EventSourceEventLike) => void): void;
}

export type EventSourceConstructor = new (url: string) => EventSourceLike;

/** What the SDK needs of `fetch` (REST calls: SSE acks, push subscriptions); the global one fits. */
export type FetchLike = (
  url: string,
  init: {
    method: string;
    headers: Record<string, string>;
    body?: string;
    keepalive?: boolean;
    signal?: AbortSignal;
  },
) => Promise<{ status: number; json(): Promise<unknown> }>;

/** What `subscribePush` needs of a `ServiceWorker`: its state, to wait for its activation. */
export interface ServiceWorkerLike {
  readonly state: string;
  addEventListener(type: 'statechange', listener: () => void): void;
}

/** What `subscribePush` needs of a `ServiceWorkerRegistration`: its workers and its `pushManager`. */
export interface PushRegistrationLike {
  readonly installing?: ServiceWorkerLike | null;
  readonly waiting?: ServiceWorkerLike | null;
  readonly active?: ServiceWorkerLike | null;
  readonly pushManager: {
    getSubscription(): Promise<PushSubscriptionLike | null>;
    subscribe(options: {
      userVisibleOnly: boolean;
      applicationServerKey: Uint8Array<ArrayBuffer>;
    }): Promise<PushSubscriptionLike>;
  };
}

/** What the SDK needs of a browser `PushSubscription`. */
export interface PushSubscriptionLike {
  readonly options?: { readonly applicationServerKey: ArrayBuffer | null };
  toJSON(): { endpoint?: string; expirationTime?: number | null; keys?: Record<string, string> };
  unsubscribe(): Promise<boolean>;
}

export interface SubscribePushOptions {
  /**
   * The registration of the service worker that shows pushes, e.g.
   * `await navigator.serviceWorker.register('/herald-service-worker.js')`; one still installing is waited for.
   */
  serviceWorker: PushRegistrationLike;
  /** base64url VAPID public key; default: fetched from `GET /v1/push/vapid-public-key`. */
  vapidPublicKey?: string;
}

export interface UnsubscribePushOptions {
  serviceWorker: PushRegistrationLike;
  /** The id `subscribePush` returned; default: asked of the server by registering the endpoint again. */
  id?: string;
}

export type HeraldPushErrorCode =
  | 'unsupported' // no Notification API in this environment
  | 'permission_denied' // the user did not allow notifications
  | 'push_disabled' // the server has Web Push off (404)
  | 'subscribe_failed' // the browser's PushManager.subscribe() failed
  | 'unauthorized' // the server refused the client token (401)
  | 'endpoint_refused' // the server does not allow this push service's endpoint (422)
  | 'request_failed'; // a network error or an unexpected answer from the server

/** Thrown by `subscribePush` and `unsubscribePush`; `status` is the server's HTTP status, when there was one. */
export class HeraldPushError extends Error {
  override readonly name = 'HeraldPushError';

  constructor(
    readonly code: HeraldPushErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export type HeraldTransport = 'websocket' | 'sse';

export interface HeraldClientOptions {
  /**
   * The Herald endpoint for the transport: `wss://herald.example.com/v1/ws`, or for SSE
   * `https://herald.example.com/v1/sse`.
   */
  url: string;
  /**
   * Default `'websocket'`. `'sse'` receives over Server-Sent Events (for networks that block WebSocket):
   * the same events and guarantees; `subscribe`, `unsubscribe` and a token refresh open a new stream
   * that recovers from the last event, as the stream's topics and token are fixed.
   */
  transport?: HeraldTransport;
  /** A fixed JWT. With `getToken` as well, it is used for the first connection. */
  token?: string;
  /** Returns a fresh JWT: before connecting without a valid one, after close 4001, and before `exp` to `refresh`. */
  getToken?: () => Promise<string>;
  /** Default `globalThis.WebSocket`. In Node, pass the `ws` package's `WebSocket` (it can see a 401 refusal). */
  WebSocket?: WebSocketConstructor;
  /** For `transport: 'sse'`. Default `globalThis.EventSource`. In Node, pass the `eventsource` package's `EventSource`. */
  EventSource?: EventSourceConstructor;
  /** The delay before reconnect attempt n (from 0) is uniform in [0, min(capMs, baseMs·2^n)]. */
  reconnectBackoff?: { baseMs?: number; capMs?: number };
  /** A socket or stream that has not sent `ready` within this many ms is dropped and retried. Default 10000. */
  connectTimeoutMs?: number;
  /** How long before the token's `exp` to refresh it, in ms. Default 30000. */
  tokenRefreshMarginMs?: number;
  /** For REST calls (SSE acks, push subscriptions). Default `globalThis.fetch`. */
  fetch?: FetchLike;
}

const DEFAULT_BACKOFF_BASE_MS = 500;
const DEFAULT_BACKOFF_CAP_MS = 30_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_TOKEN_REFRESH_MARGIN_MS = 30_000;
/** Acks go out this long after the first of a batch, or at once when a batch holds ACK_BATCH_MAX ids. */
const ACK_FLUSH_MS = 200;
/** The most ids an `ack` frame or `POST /v1/acks` may carry. */
const ACK_BATCH_MAX = 100;
/** Unsent acks kept while a connection is down or the POST is retried; the oldest go first beyond this. */
const ACK_PENDING_MAX = 1000;
/** SSE: a failed `POST /v1/acks` (network, 429, 5xx) is retried after this, doubling up to ACK_RETRY_CAP_MS. */
const ACK_RETRY_BASE_MS = 1000;
const ACK_RETRY_CAP_MS = 30_000;
/** The longest a REST call may take. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Keeps a token the server and client clocks disagree about from being refreshed in a loop. */
const MIN_TOKEN_REFRESH_DELAY_MS = 1_000;
/** setTimeout fires at once for longer delays. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;
const SOCKET_OPEN = 1;
const EVENT_SOURCE_CLOSED = 2;
/** The SSE events the SDK reads besides `error`, which EventSource also uses for its own failures. */
const STREAM_EVENTS = ['ready', 'subscribed', 'notification'] as const;
type StreamEvent = (typeof STREAM_EVENTS)[number];

/** Close codes that change what the SDK does; any other close (4008, 4009, network loss) reconnects with backoff. */
const CloseCode = {
  normal: 1000,
  abnormal: 1006,
  frameTooBig: 1009,
  serviceRestart: 1012,
  tokenExpired: 4001,
} as const;

const BROADCAST_CHANNEL = 'broadcast';
const TOPIC_PREFIX = 'topic:';
const userChannel = (userId: string): string => `user:${userId}`;

/**
 * Full-jitter exponential backoff: the delay before retry n (counted from 0 since the last `reset`) is
 * uniform in [0, min(capMs, baseMs·2^n)] ms.
 * @internal
 */
export class ReconnectBackoff {
  private retries = 0;

  constructor(
    private readonly baseMs: number,
    private readonly capMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  nextDelayMs(): number {
    const ceilingMs = Math.min(this.capMs, this.baseMs * 2 ** this.retries);
    this.retries++;
    return this.random() * ceilingMs;
  }

  reset(): void {
    this.retries = 0;
  }
}

/**
 * The ids of the notifications handed to the app, sent in batches of at most `maxIds`: `delayMs` after
 * the first id of a batch, or at once when a batch is full. `send` returns false when it cannot send now
 * (no open connection): the ids stay, in order, until the next `flush()`. `retry` puts back ids whose
 * sending failed, ahead of newer ones, and flushes again after its delay. At most `maxPending` ids are
 * kept; beyond, the oldest are dropped (the server then treats them as unacknowledged, and may push).
 * @internal
 */
export class AckBatcher {
  private pending = new Set<string>();
  private timer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly send: (ids: string[]) => boolean,
    private readonly delayMs = ACK_FLUSH_MS,
    private readonly maxIds = ACK_BATCH_MAX,
    private readonly maxPending = ACK_PENDING_MAX,
  ) {}

  /** The ids not sent yet. */
  get size(): number {
    return this.pending.size;
  }

  add(id: string): void {
    this.pending.add(id);
    this.trim();
    if (this.pending.size >= this.maxIds) this.flush();
    else this.schedule(this.delayMs);
  }

  retry(ids: string[], delayMs: number): void {
    this.pending = new Set([...ids, ...this.pending]);
    this.trim();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.schedule(delayMs);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.pending.size > 0) {
      const ids = [...this.pending].slice(0, this.maxIds);
      if (!this.send(ids)) return;
      for (const id of ids) this.pending.delete(id);
    }
  }

  /** Forgets every unsent id and its timer. */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }

  private schedule(delayMs: number): void {
    this.timer ??= setTimeout(() => this.flush(), delayMs);
  }

  private trim(): void {
    for (const id of this.pending) {
      if (this.pending.size <= this.maxPending) return;
      this.pending.delete(id);
    }
  }
}

/** A notification whose `expiresAt` has passed, by this device's clock. */
function hasExpired(notification: NotificationData, nowMs = Date.now()): boolean {
  return notification.expiresAt !== undefined && Date.parse(notification.expiresAt) <= nowMs;
}

/**
 * The `exp` claim of a JWT in ms since the Unix epoch, read without verifying the signature (the server
 * does that); `undefined` for an opaque or malformed token, whose expiry the SDK then cannot anticipate.
 */
export function decodeTokenExpiryMs(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
  let claims: unknown;
  try {
    claims = JSON.parse(atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), '=')));
  } catch {
    return undefined;
  }
  const exp = typeof claims === 'object' && claims !== null && 'exp' in claims ? claims.exp : undefined;
  return typeof exp === 'number' ? exp * 1000 : undefined;
}

/** Per channel: where the app is, and what is in flight for it on the current connection. */
interface ChannelTrack {
  /** The last notification delivered to the app, or the newest one when the channel was joined. */
  position?: ChannelPosition;
  /**
   * The position came from a plain subscribe's `subscribed` and nothing was delivered since: a notification
   * at or below it is a live one that raced that answer (never a duplicate), so it is delivered.
   */
  positionIsTentative: boolean;
  /** `recover`: drop this channel's notifications until `subscribed`; the replay after it carries them. */
  subscribeInFlight?: 'join' | 'recover';
}

/** The `ws` package's extras, through which Node sees the HTTP status of a refused handshake. */
interface NodeWebSocket extends WebSocketLike {
  on(
    event: 'unexpected-response',
    listener: (request: unknown, response: { statusCode?: number }) => void,
  ): unknown;
  terminate(): void;
}

function isNodeWebSocket(socket: WebSocketLike): socket is NodeWebSocket {
  const candidate = socket as Partial<NodeWebSocket>;
  return typeof candidate.on === 'function' && typeof candidate.terminate === 'function';
}

/** `undefined` for anything but JSON text of an object. */
function parseJsonObject(raw: unknown): object | undefined {
  if (typeof raw !== 'string') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  return typeof parsed === 'object' && parsed !== null ? parsed : undefined;
}

/** `undefined` for anything but `{event, data}` JSON text. The event may be one this SDK does not know. */
function parseServerFrame(raw: unknown): ServerFrame | undefined {
  const frame = parseJsonObject(raw);
  const isFrame =
    frame !== undefined &&
    'event' in frame &&
    typeof frame.event === 'string' &&
    'data' in frame &&
    typeof frame.data === 'object' &&
    frame.data !== null;
  return isFrame ? (frame as ServerFrame) : undefined;
}

/** An SSE event as the WebSocket frame it stands for: the data are the same; `undefined` if not a JSON object. */
function parseStreamEvent(event: StreamEvent | 'error', raw: unknown): ServerFrame | undefined {
  const data = parseJsonObject(raw);
  return data === undefined ? undefined : ({ event, data } as ServerFrame);
}

/** The bytes of a base64url string (padded or not), e.g. a VAPID public key. */
function base64UrlToBytes(base64Url: string): Uint8Array<ArrayBuffer> {
  const base64 = base64Url.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  const binary = atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), '='));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}

/** What the SDK needs of the browser's `Notification` (its permission). */
interface NotificationApiLike {
  readonly permission: string;
  requestPermission(): Promise<string>;
}

async function requestNotificationPermission(): Promise<void> {
  const api = (globalThis as { Notification?: NotificationApiLike }).Notification;
  if (api === undefined) {
    throw new HeraldPushError('unsupported', 'no Notification API here: Web Push needs a browser');
  }
  const permission = api.permission === 'granted' ? api.permission : await api.requestPermission();
  if (permission !== 'granted') {
    throw new HeraldPushError('permission_denied', `the notification permission is "${permission}"`);
  }
}

/**
 * Resolves once the registration has an active worker (PushManager.subscribe needs one): at once if it
 * has, else when the one installing or waiting activates. A freshly registered worker is still installing.
 */
function activation(registration: PushRegistrationLike): Promise<void> {
  const worker = registration.installing ?? registration.waiting;
  if (registration.active || !worker) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (worker.state === 'activated') resolve();
      if (worker.state === 'redundant') {
        reject(new HeraldPushError('subscribe_failed', 'the service worker failed to install'));
      }
    };
    worker.addEventListener('statechange', check);
    check();
  });
}

/**
 * The registration's push subscription for `key`: the current one if it was made with that key, else a
 * new one (a subscription made with another key, e.g. before the server's VAPID keys changed, is
 * dropped first: its push service would refuse the server's pushes).
 */
async function pushSubscriptionFor(
  registration: PushRegistrationLike,
  key: Uint8Array<ArrayBuffer>,
): Promise<PushSubscriptionLike> {
  try {
    const current = await registration.pushManager.getSubscription();
    if (current) {
      const currentKey = current.options?.applicationServerKey;
      // Without `options` (older browsers) the key cannot be compared: the subscription is kept.
      if (!current.options || (currentKey && sameBytes(new Uint8Array(currentKey), key))) return current;
      await current.unsubscribe();
    }
    return await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  } catch (error) {
    const denied = error instanceof Error && error.name === 'NotAllowedError';
    throw new HeraldPushError(
      denied ? 'permission_denied' : 'subscribe_failed',
      `the browser could not subscribe to push: ${String(error)}`,
    );
  }
}

/** The server's `{message}` from an error body, if it has one. */
async function errorMessage(response: { json(): Promise<unknown> }): Promise<string> {
  try {
    const body = await response.json();
    const message = typeof body === 'object' && body !== null && 'message' in body ? body.message : undefined;
    return typeof message === 'string' ? `: ${message}` : '';
  } catch {
    return '';
  }
}

type StateEvent = 'connecting' | 'recovering' | 'connected' | 'disconnected';
type CloseInfo = { code: number; reason: string };
type TransportClass =
  | { transport: 'websocket'; WebSocket: WebSocketConstructor }
  | { transport: 'sse'; EventSource: EventSourceConstructor };

export class HeraldClient<TPayloads extends object = Record<string, unknown>> {
  private readonly listeners: {
    [E in keyof HeraldClientEvents<TPayloads>]: Set<(payload: HeraldClientEvents<TPayloads>[E]) => void>;
  } = {
    notification: new Set(),
    connecting: new Set(),
    connected: new Set(),
    recovering: new Set(),
    disconnected: new Set(),
    unrecovered: new Set(),
    error: new Set(),
  };
  private readonly url: URL;
  private readonly transportClass: TransportClass;
  private readonly backoff: ReconnectBackoff;
  private readonly fetch: FetchLike;
  /** Acks of delivered notifications: `ack` frames on WebSocket, `POST /v1/acks` on SSE. */
  private readonly acks: AckBatcher;
  private readonly ackRetryBackoff = new ReconnectBackoff(ACK_RETRY_BASE_MS, ACK_RETRY_CAP_MS);
  private readonly channels = new Map<string, ChannelTrack>([
    [BROADCAST_CHANNEL, { positionIsTentative: false }],
  ]);
  private currentState: HeraldConnectionState = 'disconnected';
  private socket?: WebSocketLike;
  private stream?: EventSourceLike;
  /**
   * SSE: the `id:` of the last event whose positions are all the app's (not one that showed a gap): a new
   * stream sends it as `lastEventId` to recover every channel from there.
   */
  private lastEventId?: string;
  /** From `ready` until the socket or stream goes. */
  private session?: { connectionId: string; userId: string };
  private userId?: string;
  private attempt = 0;
  private token?: string;
  /** The token came from `getToken()` for the current attempt, so a 401 for it is final. */
  private tokenIsFresh = false;
  private tokenNeedsRenewal = false;
  private tokenSentInRefresh?: string;
  private lastFrameAtMs = 0;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private connectTimer?: ReturnType<typeof setTimeout>;
  private heartbeatTimer?: ReturnType<typeof setInterval>;
  private tokenRefreshTimer?: ReturnType<typeof setTimeout>;

  constructor(private readonly options: HeraldClientOptions) {
    if (options.token === undefined && options.getToken === undefined) {
      throw new TypeError('HeraldClient needs `token` or `getToken`');
    }
    this.transportClass = transportClass(options);
    this.url = new URL(options.url);
    this.token = options.token;
    this.backoff = new ReconnectBackoff(
      options.reconnectBackoff?.baseMs ?? DEFAULT_BACKOFF_BASE_MS,
      options.reconnectBackoff?.capMs ?? DEFAULT_BACKOFF_CAP_MS,
    );
    const fetch = options.fetch;
    // Called as a plain function: a browser's fetch refuses any `this` but the global object.
    this.fetch = fetch ? (url, init) => fetch(url, init) : defaultFetch();
    this.acks = new AckBatcher((ids) =>
      this.transportClass.transport === 'sse' ? this.postAcks(ids) : this.sendAckFrame(ids),
    );
    // Deferred so that listeners added right after construction see the first `connecting`.
    queueMicrotask(() => void this.connect());
  }

  get state(): HeraldConnectionState {
    return this.currentState;
  }

  /** Per channel, the last delivered position (or, before any, the newest one when joined); a snapshot. */
  get positions(): Record<string, ChannelPosition> {
    const positions: Record<string, ChannelPosition> = {};
    for (const [channel, track] of this.channels) {
      if (track.position) positions[channel] = { ...track.position };
    }
    return positions;
  }

  /** The topics joined now and after every reconnect. */
  get topics(): string[] {
    return [...this.channels.keys()].filter((channel) => channel.startsWith(TOPIC_PREFIX));
  }

  /** Returns a function that removes the listener. A listener that throws is reported on the console. */
  on<E extends keyof HeraldClientEvents<TPayloads>>(
    event: E,
    listener: (payload: HeraldClientEvents<TPayloads>[E]) => void,
  ): () => void {
    this.listeners[event].add(listener);
    return () => this.off(event, listener);
  }

  off<E extends keyof HeraldClientEvents<TPayloads>>(
    event: E,
    listener: (payload: HeraldClientEvents<TPayloads>[E]) => void,
  ): void {
    this.listeners[event].delete(listener);
  }

  /** Joins `topic:<name>` now and after every reconnect, until `unsubscribe` or a refusal (`error` event). */
  subscribe(channel: string): void {
    if (!channel.startsWith(TOPIC_PREFIX)) {
      throw new TypeError(`Only topic:<name> channels can be subscribed to, not "${channel}"`);
    }
    if (this.channels.has(channel) || this.currentState === 'closed') return;
    const track: ChannelTrack = { positionIsTentative: false };
    this.channels.set(channel, track);
    if (this.stream) this.reopenStream();
    else if (this.session) this.sendSubscribe(channel, track);
  }

  unsubscribe(channel: string): void {
    if (!channel.startsWith(TOPIC_PREFIX) || !this.channels.delete(channel)) return;
    if (this.stream) this.reopenStream();
    else if (this.session) this.send('unsubscribe', { channel });
  }

  /**
   * Asks the notification permission, subscribes the browser to Web Push (`userVisibleOnly`, with the
   * server's VAPID key) through `serviceWorker`'s PushManager and registers the subscription with Herald
   * for this client's user (`POST /v1/push/subscriptions`). Calling it again registers the same
   * subscription again: the same `id`. Throws a {@link HeraldPushError}. In a browser, call it from a
   * user gesture (a click): browsers ask the permission only then.
   */
  async subscribePush({
    serviceWorker,
    vapidPublicKey,
  }: SubscribePushOptions): Promise<PushSubscriptionCreated> {
    await requestNotificationPermission();
    const key = base64UrlToBytes(vapidPublicKey ?? (await this.fetchVapidPublicKey()));
    await activation(serviceWorker);
    return this.registerPushSubscription(await pushSubscriptionFor(serviceWorker, key));
  }

  /**
   * Removes this browser's push subscription from Herald (`DELETE /v1/push/subscriptions/<id>`), then
   * from the browser. Resolves false when there was none. Throws a {@link HeraldPushError}; then the
   * browser's subscription is kept, so that a retry can remove it from Herald.
   */
  async unsubscribePush({ serviceWorker, id }: UnsubscribePushOptions): Promise<boolean> {
    let subscription: PushSubscriptionLike | null;
    try {
      subscription = await serviceWorker.pushManager.getSubscription();
    } catch (error) {
      throw new HeraldPushError('subscribe_failed', `the browser's push subscription: ${String(error)}`);
    }
    if (subscription === null && id === undefined) return false;
    const subscriptionId =
      id ?? (await this.registerPushSubscription(subscription as PushSubscriptionLike)).id;
    try {
      await this.pushRequest('DELETE', `push/subscriptions/${encodeURIComponent(subscriptionId)}`);
    } catch (error) {
      if (!(error instanceof HeraldPushError && error.status === 404)) throw error; // 404: already gone
    }
    await subscription?.unsubscribe();
    return true;
  }

  /** Closes the connection for good: no reconnect, every timer cleared. Pending acks are sent first. */
  close(): void {
    const { socket, stream } = this;
    this.acks.flush();
    this.acks.clear();
    this.detachConnection();
    socket?.close(CloseCode.normal, 'client closed');
    stream?.close();
    this.stop({ code: CloseCode.normal, reason: 'client closed' });
  }

  private async connect(): Promise<void> {
    if (this.isClosed()) return;
    this.attempt++;
    this.enterState('connecting', { attempt: this.attempt });
    if (this.isClosed()) return; // a listener called close()
    let token: string | undefined;
    try {
      token = await this.tokenForConnect();
    } catch (error) {
      if (this.isClosed()) return;
      this.emit('error', { code: 'token_unavailable', message: `getToken failed: ${String(error)}` });
      return this.reconnectAfter(this.backoff.nextDelayMs(), {
        code: CloseCode.abnormal,
        reason: 'no token',
      });
    }
    if (this.isClosed()) return;
    if (token === undefined) {
      const closed = { code: CloseCode.abnormal, reason: 'token expired' };
      return this.giveUp(closed, {
        code: 'token_expired',
        message: 'the token expired and there is no getToken',
      });
    }
    const transport = this.transportClass;
    if (transport.transport === 'sse') this.openStream(transport.EventSource, token);
    else this.openSocket(transport.WebSocket, token);
  }

  /** `undefined` when the only token is a fixed one that has expired. */
  private async tokenForConnect(): Promise<string | undefined> {
    this.tokenIsFresh = false;
    const expiresAtMs = this.token === undefined ? undefined : decodeTokenExpiryMs(this.token);
    const expired = expiresAtMs !== undefined && expiresAtMs <= Date.now();
    const usable = this.token !== undefined && !expired && !this.tokenNeedsRenewal;
    if (usable || !this.options.getToken) return usable ? this.token : undefined;
    this.token = await this.options.getToken();
    this.tokenIsFresh = true;
    this.tokenNeedsRenewal = false;
    return this.token;
  }

  private openSocket(WebSocketClass: WebSocketConstructor, token: string): void {
    const url = new URL(this.url);
    url.searchParams.set('access_token', token);
    for (const track of this.channels.values()) track.subscribeInFlight = undefined;
    const personal = this.userId === undefined ? undefined : this.channels.get(userChannel(this.userId));
    if (personal?.position) {
      // The server answers these after `ready` with `subscribed` for the personal channel, then the replay.
      url.searchParams.set('offset', String(personal.position.offset));
      url.searchParams.set('epoch', personal.position.epoch);
      personal.subscribeInFlight = 'recover';
    }

    let socket: WebSocketLike;
    try {
      socket = new WebSocketClass(url.toString());
    } catch (error) {
      return this.connectionFailed(error);
    }
    this.socket = socket;
    let opened = false;
    let handshakeStatus: number | undefined;
    const statusVisible = isNodeWebSocket(socket);
    if (isNodeWebSocket(socket)) {
      socket.on('unexpected-response', (_request, response) => {
        handshakeStatus = response.statusCode;
        socket.terminate();
      });
    }
    socket.addEventListener('open', () => {
      opened = true;
    });
    socket.addEventListener('message', (event) => {
      if (socket === this.socket) this.handleFrame(event.data);
    });
    // Every error is followed by a close event, where the SDK decides what to do.
    socket.addEventListener('error', () => undefined);
    socket.addEventListener('close', (event) => {
      if (socket !== this.socket) return;
      this.detachConnection();
      this.handleClose(
        { code: event.code, reason: event.reason },
        { opened, handshakeStatus, statusVisible },
      );
    });
    this.startConnectTimer();
  }

  /**
   * SSE: one stream on the personal, broadcast and subscribed topics' channels; the server answers each
   * with `subscribed` after `ready`, recovering those that `lastEventId` names.
   */
  private openStream(EventSourceClass: EventSourceConstructor, token: string): void {
    const url = new URL(this.url);
    url.searchParams.set('access_token', token);
    const topics = this.topics.map((channel) => channel.slice(TOPIC_PREFIX.length));
    if (topics.length > 0) url.searchParams.set('topics', topics.join(','));
    if (this.lastEventId !== undefined) url.searchParams.set('lastEventId', this.lastEventId);
    for (const track of this.channels.values()) track.subscribeInFlight = undefined;

    let stream: EventSourceLike;
    try {
      stream = new EventSourceClass(url.toString());
    } catch (error) {
      return this.connectionFailed(error);
    }
    this.stream = stream;
    for (const event of STREAM_EVENTS) {
      stream.addEventListener(event, (message) => {
        if (stream !== this.stream) return;
        this.handleStreamEvent(event, message.data);
        // Not after a gap: that event's id is past what the app has, and the stream was replaced.
        if (stream === this.stream && message.lastEventId) this.lastEventId = message.lastEventId;
      });
    }
    stream.addEventListener('error', (event) => {
      if (stream !== this.stream) return;
      if (event.data !== undefined) return this.handleStreamError(stream, event.data);
      if (stream.readyState !== EVENT_SOURCE_CLOSED) return this.handleStreamDropped();
      this.detachConnection();
      const status = event.code;
      if (status === 400 || status === 403) {
        this.emit('error', {
          code: 'stream_refused',
          message: `the server refused the stream (HTTP ${status}): a malformed or forbidden topic`,
        });
      }
      this.handleClose(
        {
          code: CloseCode.abnormal,
          reason: `stream refused${status === undefined ? '' : ` (HTTP ${status})`}`,
        },
        { opened: false, handshakeStatus: status, statusVisible: status !== undefined },
      );
    });
    this.startConnectTimer();
  }

  private connectionFailed(error: unknown): void {
    this.emit('error', { code: 'connection_failed', message: String(error) });
    this.reconnectAfter(this.backoff.nextDelayMs(), { code: CloseCode.abnormal, reason: String(error) });
  }

  private startConnectTimer(): void {
    this.connectTimer = setTimeout(
      () => this.abandonConnection('no ready frame in time'),
      this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    );
  }

  /** Drops a connection that stopped answering, without waiting for a close handshake it may never finish. */
  private abandonConnection(reason: string): void {
    const { socket, stream } = this;
    if (!socket && !stream) return;
    this.detachConnection();
    stream?.close();
    if (socket && isNodeWebSocket(socket)) socket.terminate();
    else socket?.close(CloseCode.normal, reason);
    this.handleClose({ code: CloseCode.abnormal, reason }, { opened: true, statusVisible: false });
  }

  /**
   * SSE: a stream's topics and token are fixed, so a new stream replaces it, recovering every channel from
   * the last event id. Without a stream there is nothing to do: the next one opens with the current ones.
   */
  private reopenStream(): void {
    const stream = this.stream;
    if (!stream) return;
    this.detachConnection();
    stream.close();
    void this.connect();
  }

  /** EventSource reconnects by itself, sending `Last-Event-ID`: the new stream's `ready` resumes every channel. */
  private handleStreamDropped(): void {
    if (!this.session) return; // a retry of its own that failed too; the connect timer bounds them
    this.session = undefined;
    clearTimeout(this.tokenRefreshTimer);
    this.enterState('disconnected', {
      code: CloseCode.abnormal,
      reason: 'stream ended',
      willReconnect: true,
    });
    if (this.isClosed()) return; // a listener called close()
    this.attempt++;
    this.enterState('connecting', { attempt: this.attempt });
    if (!this.isClosed()) this.startConnectTimer();
  }

  /** The server's `error` event, after which it ends the stream. */
  private handleStreamError(stream: EventSourceLike, raw: unknown): void {
    this.detachConnection();
    stream.close();
    const frame = parseStreamEvent('error', raw);
    if (frame?.event === 'error' && frame.data.code === 'token_expired') {
      return this.handleClose(
        { code: CloseCode.tokenExpired, reason: frame.data.message },
        { opened: true, statusVisible: true },
      );
    }
    if (frame?.event === 'error') this.emit('error', { code: frame.data.code, message: frame.data.message });
    else
      this.emit('error', {
        code: 'bad_frame',
        message: `an SSE error event without JSON data: ${String(raw)}`,
      });
    this.handleClose(
      { code: CloseCode.abnormal, reason: 'stream ended' },
      { opened: true, statusVisible: true },
    );
  }

  private detachConnection(): void {
    this.socket = undefined;
    this.stream = undefined;
    this.session = undefined;
    this.tokenSentInRefresh = undefined;
    clearTimeout(this.connectTimer);
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.tokenRefreshTimer);
  }

  private handleClose(
    closed: CloseInfo,
    handshake: { opened: boolean; handshakeStatus?: number; statusVisible: boolean },
  ): void {
    const canRenewToken = this.options.getToken !== undefined;
    if (closed.code === CloseCode.frameTooBig) {
      return this.giveUp(closed, {
        code: 'frame_too_big',
        message: `the server closed with 1009: ${closed.reason}`,
      });
    }
    if (closed.code === CloseCode.tokenExpired && !canRenewToken) {
      return this.giveUp(closed, {
        code: 'token_expired',
        message: 'the token expired and there is no getToken',
      });
    }
    if (handshake.handshakeStatus === 401 && (!canRenewToken || this.tokenIsFresh)) {
      return this.giveUp(closed, {
        code: 'unauthorized',
        message: 'the server refused the token (HTTP 401)',
      });
    }
    // A browser cannot tell a refused token from a network failure: with getToken, it assumes the token.
    const tokenMayBeRefused =
      handshake.handshakeStatus === 401 || (!handshake.opened && !handshake.statusVisible);
    if (closed.code === CloseCode.tokenExpired || (tokenMayBeRefused && canRenewToken)) {
      this.tokenNeedsRenewal = true;
    }
    const immediate = closed.code === CloseCode.serviceRestart || closed.code === CloseCode.tokenExpired;
    this.reconnectAfter(immediate ? 0 : this.backoff.nextDelayMs(), closed);
  }

  private reconnectAfter(delayMs: number, closed: CloseInfo): void {
    this.enterState('disconnected', { ...closed, willReconnect: true });
    if (this.isClosed()) return; // a listener called close()
    this.reconnectTimer = setTimeout(() => void this.connect(), delayMs);
  }

  private giveUp(closed: CloseInfo, error: HeraldError): void {
    this.emit('error', error);
    this.stop(closed);
  }

  private stop(closed: CloseInfo): void {
    if (this.isClosed()) return;
    clearTimeout(this.reconnectTimer);
    this.currentState = 'closed';
    this.emit('disconnected', { ...closed, willReconnect: false });
  }

  private isClosed(): boolean {
    return this.currentState === 'closed';
  }

  private handleFrame(raw: unknown): void {
    this.lastFrameAtMs = Date.now();
    const frame = parseServerFrame(raw);
    if (!frame) {
      this.emit('error', {
        code: 'bad_frame',
        message: `not a {event, data} JSON text frame: ${String(raw)}`,
      });
      return;
    }
    this.handleServerFrame(frame);
  }

  private handleStreamEvent(event: StreamEvent, raw: unknown): void {
    const frame = parseStreamEvent(event, raw);
    if (!frame) {
      this.emit('error', {
        code: 'bad_frame',
        message: `SSE '${event}' data is not a JSON object: ${String(raw)}`,
      });
      return;
    }
    this.handleServerFrame(frame);
  }

  private handleServerFrame(frame: ServerFrame): void {
    switch (frame.event) {
      case 'ready':
        return this.handleReady(frame.data);
      case 'notification':
        return this.handleNotification(frame.data);
      case 'subscribed':
        return this.handleSubscribed(frame.data);
      case 'error':
        return this.handleErrorFrame(frame.data);
      case 'refreshed':
        return this.handleRefreshed(frame.data);
      case 'unsubscribed':
      case 'pong':
        return;
      default:
        return; // an event this SDK version does not know
    }
  }

  private handleReady(ready: ServerEvents['ready']): void {
    clearTimeout(this.connectTimer);
    this.backoff.reset();
    this.attempt = 0;
    if (this.userId !== undefined && this.userId !== ready.userId) {
      this.channels.delete(userChannel(this.userId)); // the token now names another user
      this.acks.clear(); // the previous user's
    }
    this.userId = ready.userId;
    const personal = userChannel(ready.userId);
    if (!this.channels.has(personal)) this.channels.set(personal, { positionIsTentative: false });
    this.session = { connectionId: ready.connectionId, userId: ready.userId };
    // SSE heartbeats are comment lines, which EventSource does not show: only a WebSocket can be checked.
    if (this.socket) this.startHeartbeat(ready.heartbeatMs);
    if (this.token !== undefined) this.scheduleTokenRefresh(decodeTokenExpiryMs(this.token));

    const recovering: string[] = [];
    for (const [channel, track] of this.channels) {
      if (track.subscribeInFlight === undefined) this.sendSubscribe(channel, track);
      if (track.subscribeInFlight === 'recover') recovering.push(channel);
    }
    if (recovering.length > 0) this.enterState('recovering', { channels: recovering });
    this.enterConnectedWhenCaughtUp();
    this.acks.flush(); // those kept while there was no connection
  }

  /**
   * With a known position it recovers from there; without, the `subscribed` answer gives the position.
   * On SSE no frame goes out (the server answers every channel of a stream), the answer is just awaited.
   */
  private sendSubscribe(channel: string, track: ChannelTrack): void {
    const position = track.position;
    track.subscribeInFlight = position ? 'recover' : 'join';
    this.send('subscribe', position ? { channel, ...position } : { channel });
  }

  private handleNotification(notification: NotificationData): void {
    const track = this.channels.get(notification.channel);
    if (!track || track.subscribeInFlight === 'recover') return;
    const last = track.position;
    if (last && notification.epoch !== last.epoch) {
      track.position = { offset: notification.offset, epoch: notification.epoch };
      this.emit('unrecovered', { channel: notification.channel });
      return this.deliver(track, notification);
    }
    const isNext = !last || notification.offset === last.offset + 1;
    if (isNext || (track.positionIsTentative && notification.offset <= last.offset)) {
      return this.deliver(track, notification);
    }
    if (notification.offset <= last.offset + 1) return;
    if (this.stream) this.reopenStream();
    else this.sendSubscribe(notification.channel, track);
  }

  /**
   * Hands the notification to the app and acks it. An expired one is dropped instead, and not acked: the
   * app never saw it, so its delivery status stays what the server made it (pushed, expired…).
   */
  private deliver(track: ChannelTrack, notification: NotificationData): void {
    track.position = { offset: notification.offset, epoch: notification.epoch };
    track.positionIsTentative = false;
    if (hasExpired(notification)) return;
    // The payload's type is the app's declaration (see NotificationOf); the wire cannot prove it.
    this.emit('notification', notification as NotificationOf<TPayloads>);
    this.acks.add(notification.id);
  }

  private handleSubscribed(subscribed: ServerEvents['subscribed']): void {
    const track = this.channels.get(subscribed.channel);
    if (!track) return;
    const inFlight = track.subscribeInFlight;
    track.subscribeInFlight = undefined;
    if (inFlight === 'recover') {
      track.positionIsTentative = false;
      if (!subscribed.recovered) {
        track.position = { offset: subscribed.offset, epoch: subscribed.epoch };
        this.emit('unrecovered', { channel: subscribed.channel });
      }
    } else if (!track.position) {
      track.position = { offset: subscribed.offset, epoch: subscribed.epoch };
      track.positionIsTentative = true;
    }
    this.enterConnectedWhenCaughtUp();
  }

  private handleErrorFrame(error: ServerEvents['error']): void {
    const { channel } = error;
    const track = channel === undefined ? undefined : this.channels.get(channel);
    if (channel !== undefined && track) {
      track.subscribeInFlight = undefined;
      const refused =
        error.code === 'forbidden' || error.code === 'too_many_subscriptions' || error.code === 'bad_request';
      if (refused && channel.startsWith(TOPIC_PREFIX)) this.channels.delete(channel);
    }
    this.emit('error', { code: error.code, message: error.message, channel });
    this.enterConnectedWhenCaughtUp();
  }

  private enterConnectedWhenCaughtUp(): void {
    if (!this.session || this.currentState === 'connected') return;
    for (const track of this.channels.values()) {
      if (track.subscribeInFlight !== undefined) return;
    }
    this.enterState('connected', { ...this.session });
  }

  /**
   * Browsers cannot see ws pings: `ping` every interval. A connection with no frame for two intervals is
   * dead; the check runs once per interval, so it is dropped after two to three.
   */
  private startHeartbeat(heartbeatMs: number): void {
    if (!(heartbeatMs > 0)) return;
    this.heartbeatTimer = setInterval(() => {
      if (Date.now() - this.lastFrameAtMs >= 2 * heartbeatMs) this.abandonConnection('heartbeat timeout');
      else this.send('ping', {});
    }, heartbeatMs);
  }

  private scheduleTokenRefresh(expiresAtMs: number | undefined): void {
    clearTimeout(this.tokenRefreshTimer);
    const getToken = this.options.getToken;
    if (!getToken || expiresAtMs === undefined) return;
    const remainingMs = expiresAtMs - Date.now();
    const marginMs = this.options.tokenRefreshMarginMs ?? DEFAULT_TOKEN_REFRESH_MARGIN_MS;
    const delayMs = Math.max(remainingMs - marginMs, remainingMs / 2, MIN_TOKEN_REFRESH_DELAY_MS);
    this.tokenRefreshTimer = setTimeout(
      () => void this.refreshToken(getToken),
      Math.min(delayMs, MAX_TIMER_DELAY_MS),
    );
  }

  /**
   * If this fails, the server closes with 4001 (SSE: `error` token_expired) at expiry, and that path
   * fetches a token and recovers. SSE cannot refresh a stream's token: a new stream takes the new one.
   */
  private async refreshToken(getToken: () => Promise<string>): Promise<void> {
    const session = this.session;
    let token: string;
    try {
      token = await getToken();
    } catch (error) {
      this.emit('error', { code: 'token_unavailable', message: `getToken failed: ${String(error)}` });
      return;
    }
    if (session !== this.session) return;
    if (this.stream) {
      this.token = token;
      return this.reopenStream();
    }
    this.tokenSentInRefresh = token;
    this.send('refresh', { token });
  }

  private handleRefreshed(refreshed: ServerEvents['refreshed']): void {
    if (this.tokenSentInRefresh === undefined) return;
    this.token = this.tokenSentInRefresh;
    this.tokenSentInRefresh = undefined;
    this.scheduleTokenRefresh(refreshed.exp * 1000);
  }

  /** WebSocket: false while there is no open connection (the ids wait for the next `ready`). */
  private sendAckFrame(ids: string[]): boolean {
    if (this.socket?.readyState !== SOCKET_OPEN || !this.session) return false;
    this.send('ack', { ids });
    return true;
  }

  /** SSE: `POST /v1/acks`; a network error, 429 or 5xx is retried with backoff, a 4xx reported and dropped. */
  private postAcks(ids: string[]): boolean {
    void this.sendAckRequest(ids);
    return true;
  }

  private async sendAckRequest(ids: string[]): Promise<void> {
    let status: number;
    try {
      const token = await this.tokenForRequest();
      if (token === undefined) {
        this.emit('error', { code: 'ack_failed', message: 'no valid token to send acks with' });
        return;
      }
      const body: AckBody = { ids };
      status = (await this.request('POST', 'acks', { token, body, keepalive: true })).status;
    } catch {
      status = 0; // the network, a timeout, or getToken
    }
    if (this.isClosed()) return;
    if (status >= 200 && status < 300) return this.ackRetryBackoff.reset();
    if (status === 0 || status === 429 || status >= 500) {
      return this.acks.retry(ids, this.ackRetryBackoff.nextDelayMs());
    }
    this.emit('error', { code: 'ack_failed', message: `POST /v1/acks answered ${status}` });
  }

  /** A token for a REST call: the current one while it is valid, else a fresh one; undefined if neither. */
  private async tokenForRequest(): Promise<string | undefined> {
    const expiresAtMs = this.token === undefined ? undefined : decodeTokenExpiryMs(this.token);
    const valid = expiresAtMs === undefined || expiresAtMs > Date.now();
    if (this.token !== undefined && valid && !this.tokenNeedsRenewal) return this.token;
    return this.options.getToken?.();
  }

  /** `path` is relative to the transport's URL: `acks` next to `…/v1/ws` is `…/v1/acks`. */
  private request(
    method: string,
    path: string,
    { token, body, keepalive = false }: { token?: string; body?: object; keepalive?: boolean } = {},
  ): Promise<{ status: number; json(): Promise<unknown> }> {
    const base = new URL(this.url.href);
    if (base.protocol === 'ws:') base.protocol = 'http:';
    if (base.protocol === 'wss:') base.protocol = 'https:';
    const headers: Record<string, string> = {};
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    return this.fetch(new URL(path, base).href, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      keepalive,
      signal: typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(REQUEST_TIMEOUT_MS) : undefined,
    });
  }

  /** A push-subscription call with the client token; anything but 2xx is thrown as a HeraldPushError. */
  private async pushRequest(
    method: string,
    path: string,
    { body, authenticated = true }: { body?: object; authenticated?: boolean } = {},
  ): Promise<{ status: number; json(): Promise<unknown> }> {
    let token: string | undefined;
    if (authenticated) {
      try {
        token = await this.tokenForRequest();
      } catch (error) {
        throw new HeraldPushError('unauthorized', `getToken failed: ${String(error)}`);
      }
      if (token === undefined)
        throw new HeraldPushError('unauthorized', 'the token expired and there is no getToken');
    }
    let response: { status: number; json(): Promise<unknown> };
    try {
      response = await this.request(method, path, { token, body });
    } catch (error) {
      throw new HeraldPushError('request_failed', `${method} ${path} failed: ${String(error)}`);
    }
    if (response.status >= 200 && response.status < 300) return response;
    const code: HeraldPushErrorCode =
      response.status === 401
        ? 'unauthorized'
        : response.status === 404
          ? 'push_disabled'
          : response.status === 422
            ? 'endpoint_refused'
            : 'request_failed';
    const detail = await errorMessage(response);
    throw new HeraldPushError(
      code,
      `${method} ${path} answered ${response.status}${detail}`,
      response.status,
    );
  }

  private async fetchVapidPublicKey(): Promise<string> {
    const response = await this.pushRequest('GET', 'push/vapid-public-key', { authenticated: false });
    const body = (await response.json().catch(() => undefined)) as
      Partial<VapidPublicKeyResponse> | undefined;
    if (typeof body?.publicKey !== 'string') {
      throw new HeraldPushError('request_failed', 'GET push/vapid-public-key: no publicKey in the answer');
    }
    return body.publicKey;
  }

  private async registerPushSubscription(
    subscription: PushSubscriptionLike,
  ): Promise<PushSubscriptionCreated> {
    const { endpoint, expirationTime, keys } = subscription.toJSON();
    if (endpoint === undefined || keys?.p256dh === undefined || keys.auth === undefined) {
      throw new HeraldPushError(
        'subscribe_failed',
        'the browser gave a push subscription without endpoint or keys',
      );
    }
    const body: PushSubscriptionBody = { endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } };
    if (typeof expirationTime === 'number') body.expirationTime = expirationTime;
    const response = await this.pushRequest('POST', 'push/subscriptions', { body });
    const created = (await response.json().catch(() => undefined)) as
      Partial<PushSubscriptionCreated> | undefined;
    if (typeof created?.id !== 'string') {
      throw new HeraldPushError('request_failed', 'POST push/subscriptions: no id in the answer');
    }
    return { id: created.id };
  }

  private send<E extends keyof ClientEvents>(event: E, data: ClientEvents[E]): void {
    if (this.socket?.readyState === SOCKET_OPEN) this.socket.send(JSON.stringify({ event, data }));
  }

  private enterState<E extends StateEvent>(state: E, payload: HeraldClientEvents<TPayloads>[E]): void {
    this.currentState = state;
    this.emit(state, payload);
  }

  private emit<E extends keyof HeraldClientEvents<TPayloads>>(
    event: E,
    payload: HeraldClientEvents<TPayloads>[E],
  ): void {
    for (const listener of [...this.listeners[event]]) {
      try {
        listener(payload);
      } catch (error) {
        console.error(`[herald] a '${event}' listener threw`, error);
      }
    }
  }
}

/** The global fetch, looked up at each call; a clear error where there is none. */
function defaultFetch(): FetchLike {
  return (url, init) => {
    const fetch = (globalThis as { fetch?: FetchLike }).fetch;
    if (fetch === undefined) return Promise.reject(new TypeError('No global fetch: pass `fetch`'));
    return fetch(url, init);
  };
}

function transportClass(options: HeraldClientOptions): TransportClass {
  const globals = globalThis as { WebSocket?: WebSocketConstructor; EventSource?: EventSourceConstructor };
  if (options.transport === 'sse') {
    const EventSource = options.EventSource ?? globals.EventSource;
    if (EventSource === undefined) {
      throw new TypeError('No global EventSource: pass `EventSource` (in Node, the `eventsource` package)');
    }
    return { transport: 'sse', EventSource };
  }
  const WebSocket = options.WebSocket ?? globals.WebSocket;
  if (WebSocket === undefined) {
    throw new TypeError('No global WebSocket: pass `WebSocket` (in Node, the `ws` package)');
  }
  return { transport: 'websocket', WebSocket };
}
