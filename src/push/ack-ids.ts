/** Ids one acknowledgement may carry. */
export const MAX_ACK_IDS = 100;

/** A notification id: a UUID (random, or the version-8 one of an Idempotency-Key publish). */
const NOTIFICATION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isNotificationId = (value: unknown): value is string =>
  typeof value === 'string' && NOTIFICATION_ID.test(value);

/**
 * The `ids` of an `ack` frame or of `POST /v1/acks`: 1–{@link MAX_ACK_IDS} notification ids. Returns
 * them (lower-cased, as Herald writes them), or the problem.
 */
export function readAckIds(ids: unknown): string[] | { problem: string } {
  if (!Array.isArray(ids) || ids.length < 1 || ids.length > MAX_ACK_IDS)
    return { problem: `ids must be an array of 1-${MAX_ACK_IDS} notification ids` };
  if (!ids.every(isNotificationId)) return { problem: 'each of ids must be a notification id (a UUID)' };
  return ids.map((id) => id.toLowerCase());
}
