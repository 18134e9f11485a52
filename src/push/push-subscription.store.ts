import { createHash } from 'node:crypto';

/** The keys a browser's PushManager gives with a subscription (base64url). */
export interface PushSubscriptionKeys {
  /** The user agent's ECDH P-256 public key (65 bytes, uncompressed). */
  p256dh: string;
  /** The 16-byte authentication secret. */
  auth: string;
}

/** A subscription as a browser registers it (RFC 8030 endpoint + RFC 8291 keys). */
export interface NewPushSubscription {
  endpoint: string;
  keys: PushSubscriptionKeys;
  /** ms since the epoch when the push service retires the endpoint, if it says. */
  expirationTime: number | null;
}

export interface StoredPushSubscription extends NewPushSubscription {
  id: string;
  userId: string;
  /** ms since the epoch */
  createdAt: number;
  /** ms since the epoch of the last push a push service accepted for it; null before the first. */
  lastPushedAt: number | null;
}

/** Why a subscription left a user (the `reason` of `push_subscription.removed`). */
export type RemovalReason = 'gone' | 'replaced' | 'moved' | 'unsubscribed';

export interface RemovedSubscription {
  userId: string;
  subscriptionId: string;
  reason: RemovalReason;
}

export interface Registration {
  id: string;
  /** False when the user already had this endpoint (the same id again). */
  created: boolean;
  /** What this registration took away: another user's copy of the endpoint, the user's 101st. */
  removed: RemovedSubscription[];
}

/** Subscriptions one user may hold; one more replaces the one that least recently received a push. */
export const MAX_SUBSCRIPTIONS_PER_USER = 100;

/**
 * A subscription's id: a digest of its endpoint (22 base64url characters), so the same endpoint is the
 * same id on every replica and for every user; it says nothing about the endpoint itself.
 */
export const subscriptionIdOf = (endpoint: string): string =>
  createHash('sha256').update(endpoint).digest('base64url').slice(0, 22);

/**
 * The Web Push subscriptions of every user, in the engine. Guarantees, for both engines:
 * - an endpoint belongs to one user at a time: registering it for a user takes it from whoever had
 *   it (a browser holds one subscription per origin, and its user may change);
 * - a user holds at most {@link MAX_SUBSCRIPTIONS_PER_USER}: one more replaces the subscription pushed
 *   least recently — one never pushed counts from its registration — atomically with the addition;
 * - registering an endpoint the user already has keeps its id and creation time and takes its new keys.
 */
export abstract class PushSubscriptionStore {
  abstract register(userId: string, subscription: NewPushSubscription, now: number): Promise<Registration>;

  /** Deletes the user's subscription; false when the user has none with this id. */
  abstract remove(userId: string, id: string): Promise<boolean>;

  /** The user's subscriptions, oldest first. */
  abstract list(userId: string): Promise<StoredPushSubscription[]>;

  /** Records that a push service accepted a push for these subscriptions at `at` (ms). */
  abstract markPushed(userId: string, ids: readonly string[], at: number): Promise<void>;
}
