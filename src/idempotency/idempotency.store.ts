/**
 * What is remembered under one Idempotency-Key. A pending record names the attempt that claimed it
 * (absent in records of older versions), so that only that attempt can give it up.
 */
export type IdempotencyRecord =
  | { state: 'pending'; fingerprint: string; attempt?: string }
  | { state: 'done'; fingerprint: string; response: unknown };

export type ClaimResult = { claimed: true; attempt: string } | { claimed: false; record: IdempotencyRecord };

/**
 * Remembers Idempotency-Keys across replicas. `claim` is atomic: of two concurrent requests with one
 * key, exactly one gets `claimed: true` and publishes; the other sees the record and waits for the
 * response. Keys are scoped by API key name, so two publishers never collide.
 */
export abstract class IdempotencyStore {
  /**
   * Takes the key for this request (a new attempt), or returns what is already there.
   * `pendingTtlSeconds` bounds a crashed holder.
   */
  abstract claim(
    scope: string,
    key: string,
    fingerprint: string,
    pendingTtlSeconds: number,
  ): Promise<ClaimResult>;

  /** Stores the first response, kept for IDEMPOTENCY_TTL_SECONDS. */
  abstract complete(
    scope: string,
    key: string,
    record: IdempotencyRecord & { state: 'done' },
    ttlSeconds: number,
  ): Promise<void>;

  /**
   * Gives the key up if `attempt` still holds it (its publish failed), so that a retry can take it and
   * complete the publish; a record of another attempt, or a completed one, is left alone.
   */
  abstract release(scope: string, key: string, attempt: string): Promise<void>;

  /** The record under the key, if any. */
  abstract read(scope: string, key: string): Promise<IdempotencyRecord | undefined>;
}
