/** The engine keeps pending webhook events in this many buckets, each polled on its own (no hot key). */
export const WEBHOOK_BUCKETS = 16;

/** One claimed attempt at an event: the body to POST as is, and which attempt this is (1, 2, …). */
export interface ClaimedWebhook {
  id: string;
  body: string;
  attempt: number;
}

export interface ClaimResult {
  claimed: ClaimedWebhook[];
  /** Events in the bucket after the claim (due, waiting for a retry, or claimed), for the gauge. */
  pending: number;
}

/**
 * Pending webhook events, kept in the engine so that any replica sends them and none is lost with a
 * replica. Times are Unix ms of the caller's clock.
 * - `enqueue` records an event, due at `dueAt`; once it resolves, the event survives this replica.
 * - `claim` takes up to `limit` due events of one bucket, oldest due first, and leases them until
 *   `now + leaseMs`: of several replicas claiming at once, exactly one gets each event. An event whose
 *   claimer does not settle it by the lease end (it died, or stalled) is due again, and the next claim
 *   gets it as the next attempt.
 * - `complete` (delivered, or dropped) and `retry` (due again at `dueAt`) settle a claimed attempt,
 *   only while it is the event's latest: a claimer whose lease ran out and was claimed again since
 *   changes nothing (they return false).
 */
export abstract class WebhookQueue {
  abstract enqueue(id: string, body: string, dueAt: number): Promise<void>;

  abstract claim(bucket: number, now: number, leaseMs: number, limit: number): Promise<ClaimResult>;

  abstract complete(id: string, attempt: number): Promise<boolean>;

  abstract retry(id: string, attempt: number, dueAt: number): Promise<boolean>;
}

/** The bucket of an event: FNV-1a of its id, so events spread evenly and an id always maps the same way. */
export function bucketOf(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % WEBHOOK_BUCKETS;
}
