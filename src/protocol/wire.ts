/**
 * Herald's wire shapes: the one definition of every frame, event and REST body that crosses the
 * network (docs/PROTOCOL.md, OpenAPI at /docs). The server imports this file; the client SDK, the
 * publisher SDK and the bench get generated copies of it (`npm run build` runs
 * scripts/generate-wire.js, and a unit test fails when a copy is stale), so a field added here appears
 * everywhere at compile time.
 *
 * Types only: nothing here exists at run time, so a copy adds nothing to a package's bundle.
 */

/** A position in one channel's history: `offset` counts 1, 2, 3… within one `epoch`. */
export interface ChannelPosition {
  offset: number;
  epoch: string;
}

/** `user:<id>`, `topic:<name>` or `broadcast`. */
export type ChannelName = string;

/** A notification as it is delivered on one channel (the `notification` frame's and event's data). */
export interface NotificationData extends ChannelPosition {
  /** UUID of the publish; the same on every channel it went to. */
  id: string;
  channel: ChannelName;
  type: string;
  payload: unknown;
  /** ISO-8601 UTC. */
  createdAt: string;
  /** ISO-8601 UTC, when the publisher set one: past it, the notification is stale (the SDK drops it). */
  expiresAt?: string;
}

/** Codes of `error` frames (WebSocket: the connection stays open; SSE: the stream ends after it). */
export type ErrorCode = 'bad_request' | 'forbidden' | 'too_many_subscriptions' | 'internal' | 'token_expired';

/** Server → client: WebSocket frames `{event, data}` and SSE events `event: <name>` / `data: <json>`. */
export interface ServerEvents {
  ready: { connectionId: string; userId: string; channels: ChannelName[]; heartbeatMs: number };
  notification: NotificationData;
  /** `offset` is the newest offset in the channel when the connection was put on it. */
  subscribed: { channel: ChannelName; offset: number; epoch: string; recovered: boolean };
  unsubscribed: { channel: ChannelName };
  error: { code: ErrorCode; message: string; channel?: ChannelName };
  pong: Record<string, never>;
  /** `exp` in seconds since the Unix epoch, as in the JWT. */
  refreshed: { exp: number };
}

/** Client → server WebSocket frames. */
export interface ClientEvents {
  /** With `offset` and `epoch`: recover, i.e. replay every stored notification after `offset`. */
  subscribe: { channel: ChannelName; offset?: number; epoch?: string };
  unsubscribe: { channel: ChannelName };
  ping: Record<string, never>;
  refresh: { token: string };
  /** The application got these notifications (1–100 ids); no answer. */
  ack: { ids: string[] };
}

export type ServerEvent = keyof ServerEvents;
export type ClientEvent = keyof ClientEvents;

export type ServerFrame = { [E in ServerEvent]: { event: E; data: ServerEvents[E] } }[ServerEvent];
export type ClientFrame = { [E in ClientEvent]: { event: E; data: ClientEvents[E] } }[ClientEvent];

/** `POST /v1/notifications` body. At least one target; `users` ≤ 10,000, `topics` ≤ 100. */
export interface PublishBody {
  users?: string[];
  topics?: string[];
  broadcast?: boolean;
  /** 1–100 characters. */
  type: string;
  /** Any JSON value. */
  payload: unknown;
  /** Web Push to target `users` who do not get it live (needs `users`). */
  push?: PushOptions;
  /** 1–32 of `[A-Za-z0-9_-]`: the Web Push `Topic` (a newer push with it replaces an undelivered one). */
  collapseKey?: string;
  /** ISO-8601, in the future, ≤ 28 days ahead: no push after it, and the push `TTL` is the time left. */
  expiresAt?: string;
}

export type PushUrgency = 'very-low' | 'low' | 'normal' | 'high';

/** The `push` field of a publish. */
export interface PushOptions {
  /** 1–200 characters. */
  title: string;
  /** ≤ 1000 characters. */
  body?: string;
  url?: string;
  icon?: string;
  /** The Web Push `Urgency`; default `normal`. */
  urgency?: PushUrgency;
  /**
   * 0–86,400,000 (default 10,000): how long a user who is online when the notification is stored has
   * to acknowledge it before it is pushed. Users with no live connection are pushed at once.
   */
  afterMs?: number;
}

/** What a service worker's `push` event carries (`event.data.json()`). */
export interface PushMessage {
  id: string;
  type: string;
  title: string;
  body: string | null;
  url: string | null;
  icon: string | null;
  /** ISO-8601 UTC, of the notification. */
  createdAt: string;
  /** The publisher's payload, when the encrypted message fits 4,096 bytes. */
  payload?: unknown;
  /** True when `payload` did not fit. */
  payloadOmitted?: true;
}

/** `POST /v1/acks` (client token) → 204: the SSE (and plain HTTP) equivalent of the `ack` frame. */
export interface AckBody {
  ids: string[];
}

/** `POST /v1/push/subscriptions` (client token): a browser's `PushSubscription.toJSON()`. */
export interface PushSubscriptionBody {
  endpoint: string;
  keys: { p256dh: string; auth: string };
  expirationTime?: number | null;
}

/** `POST /v1/push/subscriptions` → 201 (new) or 200 (the same endpoint again). */
export interface PushSubscriptionCreated {
  id: string;
}

/** `GET /v1/users/<userId>/push-subscriptions` (API key, `read`) → 200. */
export interface PushSubscriptionList {
  userId: string;
  /** Endpoint origins only; never the endpoint or the keys. Times ISO-8601 UTC. */
  subscriptions: { id: string; origin: string; createdAt: string; lastPushedAt: string | null }[];
}

/** `GET /v1/push/vapid-public-key` → 200: the `applicationServerKey` for `pushManager.subscribe`. */
export interface VapidPublicKeyResponse {
  publicKey: string;
}

/** Where a publish was stored: one entry per target channel. */
export interface Delivery extends ChannelPosition {
  channel: ChannelName;
}

/** `POST /v1/notifications` → 202. */
export interface PublishResponse {
  id: string;
  deliveries: Delivery[];
}

/** Every error response: `{statusCode, error, message}`. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

/** One item of `POST /v1/notifications/batch` (≤ 1,000 items). */
export interface BatchItem extends PublishBody {
  /** Like the Idempotency-Key header, for this item (1–200 characters). */
  idempotencyKey?: string;
}

export interface BatchBody {
  notifications: BatchItem[];
}

/** Per item, in order: the publish response, or the error it would have been on its own. */
export type BatchItemResult = PublishResponse | { error: ErrorBody };

/** `POST /v1/notifications/batch` → 202. */
export interface BatchResponse {
  results: BatchItemResult[];
}

/** `GET /v1/channels/<channel>/history?after=&limit=` → 200. `offset` is the newest in the channel. */
export interface HistoryResponse extends ChannelPosition {
  channel: ChannelName;
  notifications: NotificationData[];
}

/** `GET /v1/presence/<userId>` → 200, cluster-wide. */
export interface PresenceResponse {
  userId: string;
  online: boolean;
  connections: number;
}

/** Where a notification published with `push` stands for one target user. */
export type DeliveryState =
  'pending' | 'delivered' | 'pushed' | 'push_failed' | 'expired' | 'no_subscriptions';

/** `GET /v1/notifications/<id>/status` → 200, for a notification published with `push`. */
export interface DeliveryStatusResponse {
  id: string;
  users: { userId: string; state: DeliveryState; deliveredAt?: string; pushedAt?: string }[];
}

/** What each webhook event type carries in its `data`. */
export interface WebhookEventData {
  /** The first ack of a notification published with `push`, by any connection of the user. */
  'notification.delivered': { notificationId: string; userId: string };
  /** `subscriptions`: how many of the user's push subscriptions accepted it. */
  'notification.pushed': { notificationId: string; userId: string; subscriptions: number };
  'notification.push_failed': { notificationId: string; userId: string; reason: string };
  'push_subscription.removed': { userId: string; subscriptionId: string; reason: string };
}

export type WebhookEventType = keyof WebhookEventData;

/**
 * The body Herald POSTs to `WEBHOOK_URL`, signed in `Herald-Signature`. `id` (UUID) and `createdAt`
 * (ISO-8601 UTC) are set once, when the event happens, and stay the same on every retry: a receiver
 * that sees an `id` again has seen that event.
 */
export type WebhookEvent = {
  [T in WebhookEventType]: { id: string; type: T; createdAt: string; data: WebhookEventData[T] };
}[WebhookEventType];
