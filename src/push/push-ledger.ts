import type { DeliveryState, PushUrgency } from '../protocol/wire';

/** What a push for one notification says, stored once for all its target users. */
export interface PushContent {
  id: string;
  type: string;
  payload: unknown;
  /** ISO-8601 UTC */
  createdAt: string;
  title: string;
  body: string | null;
  url: string | null;
  icon: string | null;
  urgency: PushUrgency;
  collapseKey?: string;
  /** ISO-8601 UTC */
  expiresAt?: string;
}

/** Where one notification stands for one user. Times in ms since the epoch. */
export interface DeliveryRecord {
  state: DeliveryState;
  deliveredAt?: number;
  pushedAt?: number;
  /** Subscriptions that accepted a push of it so far. */
  accepted?: number;
  /** While retrying: the attempts made and the subscriptions still to push. */
  attempts?: number;
  retry?: string[];
  /** The last failure, for `notification.push_failed`. */
  reason?: string;
}

/** A due push taken by one replica; `lease` (ms since the epoch) is when others may take it again. */
export interface ClaimedPush {
  notificationId: string;
  userId: string;
  lease: number;
}

/**
 * The durable side of offline delivery, in the engine: each notification published with `push` (its
 * content and, per target user, a {@link DeliveryRecord}, kept IDEMPOTENCY_TTL_SECONDS) and the queue of
 * due pushes, split into {@link buckets} so that no one key is hot. Guarantees, for both engines:
 * - **Durable**: a push is due once {@link schedule} resolved; whichever replica claims it sends it.
 * - **One sender**: {@link claim} hands each due push to one caller, with a lease; only when the lease
 *   passes (its holder died) is it handed out again. At-least-once: a holder that dies after sending
 *   and before {@link finish} gets it sent again.
 * - **An ack wins**: once {@link acknowledge} marked a user's record `delivered`, nothing overwrites
 *   it and its due push leaves the queue.
 * - **Idempotent**: recording a notification again (a retried publish, same id) leaves every existing
 *   record as it is.
 */
export abstract class PushLedger {
  /** How many queue buckets there are; {@link claim} takes one at a time. */
  abstract readonly buckets: number;

  /**
   * Stores the content (unless already there) and a record in `state` for each user that has none;
   * returns the users whose record is `pending` (new or left pending by an earlier attempt).
   */
  abstract record(
    content: PushContent,
    userIds: readonly string[],
    state: Extract<DeliveryState, 'pending' | 'no_subscriptions'>,
    ttlSeconds: number,
  ): Promise<string[]>;

  /** Makes the users' pushes due at `dueAt` (ms); a push already queued keeps its time. */
  abstract schedule(
    notificationId: string,
    jobs: readonly { userId: string; dueAt: number }[],
  ): Promise<void>;

  /** Takes up to `limit` pushes of the bucket due by `now`, each leased until `now + leaseMs`. */
  abstract claim(bucket: number, now: number, leaseMs: number, limit: number): Promise<ClaimedPush[]>;

  /** The content and the user's record; undefined once expired (or never recorded). */
  abstract load(
    notificationId: string,
    userId: string,
  ): Promise<{ content: PushContent; record: DeliveryRecord } | undefined>;

  /** Replaces the user's record unless it is `delivered` (or gone); false when it was not replaced. */
  abstract update(notificationId: string, userId: string, record: DeliveryRecord): Promise<boolean>;

  /** Makes a claimed push due again at `dueAt`, if the caller still holds its lease. */
  abstract reschedule(push: ClaimedPush, dueAt: number): Promise<boolean>;

  /** Takes a claimed push off the queue, if the caller still holds its lease. */
  abstract finish(push: ClaimedPush): Promise<void>;

  /**
   * Marks these notifications delivered for the user (those recorded for them), and takes their due
   * pushes off the queue; returns the ids delivered by this call (the first ack of each).
   */
  abstract acknowledge(userId: string, ids: readonly string[], now: number): Promise<string[]>;

  /** Every target user's record, or undefined for a notification not recorded (or expired). */
  abstract status(notificationId: string): Promise<{ userId: string; record: DeliveryRecord }[] | undefined>;

  /** True while the user's push of the notification is in the queue (due, leased or retrying). */
  abstract isQueued(notificationId: string, userId: string): Promise<boolean>;
}

/** The queue member of one user's push: user ids have no control characters, so `\n` separates. */
export const queueMember = (notificationId: string, userId: string): string => `${notificationId}\n${userId}`;

export function parseQueueMember(member: string): { notificationId: string; userId: string } {
  const at = member.indexOf('\n');
  return { notificationId: member.slice(0, at), userId: member.slice(at + 1) };
}

/** The bucket of a queue member: FNV-1a of its text, so pushes spread evenly over the buckets. */
export function bucketOf(member: string, buckets: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < member.length; i++) {
    hash ^= member.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % buckets;
}
