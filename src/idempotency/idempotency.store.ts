/** What is remembered under one Idempotency-Key. */
export type IdempotencyRecord =
  { state: 'pending'; fingerprint: string } | { state: 'done'; fingerprint: string; response: unknown };

export type ClaimResult = { claimed: true } | { claimed: false; record: IdempotencyRecord };

/**
 * Remembers Idempotency-Keys across replicas. `claim` is atomic: of two concurrent requests with one
 * key, exactly one gets `claimed: true` and publishes; the other sees the record and waits for the
 * response. Keys are scoped by API key name, so two publishers never collide.
 */
export abstract class IdempotencyStore {
  /** Takes the key for this request, or returns what is already there. `pendingTtlSeconds` bounds a crashed holder. */
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

  /** Gives the key up (the publish failed), so a retry can take it and complete the publish. */
  abstract release(scope: string, key: string): Promise<void>;

  /** The record under the key, if any. */
  abstract read(scope: string, key: string): Promise<IdempotencyRecord | undefined>;
}
