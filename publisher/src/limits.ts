import { createHash } from 'node:crypto';
import { HeraldError } from './errors';
import type { BatchItem, PublishBody } from './wire';

/** Herald's `MAX_PAYLOAD_BYTES` default: the largest publish body, and the largest batch item. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 65_536;
/** The most items one `POST /v1/notifications/batch` takes. */
export const MAX_BATCH_ITEMS = 1000;
/** The largest `POST /v1/notifications/batch` body. */
export const MAX_BATCH_BODY_BYTES = 16 * 1024 * 1024;
/** The most `users` one publish takes. */
export const MAX_USERS_PER_PUBLISH = 10_000;
/** The longest Idempotency-Key (and batch item `idempotencyKey`) Herald accepts. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;

/** Bytes a derived key adds to a batch item: `,"idempotencyKey":"<≤ 200 ASCII characters>"`. */
const DERIVED_KEY_FIELD_BYTES = ',"idempotencyKey":""'.length + MAX_IDEMPOTENCY_KEY_LENGTH;

/** The UTF-8 size of a value's JSON: what Herald measures against its limits. */
export const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));

/**
 * The key of one part of a keyed publish: the same for every retry of the same call, different for
 * each part. ASCII and at most 200 characters whatever the caller's key (a long or non-ASCII key is
 * replaced by its SHA-256 digest first).
 */
export function deriveKey(key: string, part: string): string {
  const derived = `${key}:${part}`;
  if (derived.length <= MAX_IDEMPOTENCY_KEY_LENGTH && /^[\x20-\x7e]*$/.test(derived)) return derived;
  return `${createHash('sha256').update(key).digest('base64url')}:${part}`;
}

/**
 * The publishes that carry one logical publish `body` under the Idempotency-Key `key`, each a batch
 * item with its key and each at most `maxPayloadBytes` of JSON (key included) with at most 10,000 users:
 * `[body]` under `key` itself when it fits; otherwise its `users` split over several parts, keyed
 * `deriveKey(key, 'part<n>')`, the first also carrying `topics` and `broadcast` (so that a topic or the
 * broadcast channel gets it once). Every part is a notification of its own, with its own id.
 * Deterministic: a retry of the same call with the same limits plans the same parts and keys.
 * Throws a `local` HeraldError: 413 when no split fits (without users, or when `type`, `payload` and
 * `topics` alone are too large), 400 when the body cannot be JSON (a cycle, a BigInt).
 */
export function planParts(body: PublishBody, key: string, maxPayloadBytes: number): BatchItem[] {
  const users = body.users ?? [];
  const whole: BatchItem = { ...body, idempotencyKey: key };
  let wholeBytes: number;
  try {
    wholeBytes = jsonBytes(whole);
  } catch (error) {
    // JSON.stringify throws on a cycle or a BigInt.
    throw new HeraldError({
      kind: 'local',
      status: 400,
      error: 'Bad Request',
      message: `the publish is not JSON: ${error instanceof Error ? error.message : String(error)}`,
      cause: error,
    });
  }
  if (users.length <= MAX_USERS_PER_PUBLISH && wholeBytes <= maxPayloadBytes) return [whole];

  const rest = omit(body, 'users');
  // Every part is measured as if it carried the topics and the longest derived key: the first does.
  const budget = maxPayloadBytes - jsonBytes({ ...rest, users: [] }) - DERIVED_KEY_FIELD_BYTES;
  const groups: string[][] = [];
  let group: string[] = [];
  let groupBytes = 0;
  // Herald drops a repeated user within one publish, not across parts: each goes into one part only.
  for (const user of new Set(users)) {
    const userBytes = jsonBytes(user);
    if (userBytes > budget) throw tooLarge(maxPayloadBytes, users.length);
    if (group.length > 0 && (groupBytes + 1 + userBytes > budget || group.length === MAX_USERS_PER_PUBLISH)) {
      groups.push(group);
      group = [];
    }
    groupBytes = group.length > 0 ? groupBytes + 1 + userBytes : userBytes;
    group.push(user);
  }
  if (group.length === 0) throw tooLarge(maxPayloadBytes, 0);
  groups.push(group);

  const content = omit(rest, 'topics', 'broadcast');
  return groups.map((part, index) => ({
    ...(index === 0 ? rest : content),
    users: part,
    idempotencyKey: deriveKey(key, `part${index}`),
  }));
}

function omit<T extends object, K extends keyof T>(value: T, ...keys: K[]): Omit<T, K> {
  const copy = { ...value };
  for (const key of keys) delete copy[key];
  return copy;
}

function tooLarge(maxPayloadBytes: number, users: number): HeraldError {
  return new HeraldError({
    kind: 'local',
    status: 413,
    error: 'Payload Too Large',
    message:
      users === 0
        ? `the publish is larger than MAX_PAYLOAD_BYTES (${maxPayloadBytes}) and has no users to split it by`
        : `the publish does not fit MAX_PAYLOAD_BYTES (${maxPayloadBytes}) even with one user per part: type, payload and topics are too large`,
  });
}

/**
 * Groups items (given by their JSON size in bytes) into batch requests, in order: at most
 * `MAX_BATCH_ITEMS` each, and a body `{"notifications":[…]}` of at most `maxBodyBytes`.
 * Returns the item indexes of each request.
 */
export function chunkBatches(itemBytes: readonly number[], maxBodyBytes = MAX_BATCH_BODY_BYTES): number[][] {
  const envelopeBytes = '{"notifications":[]}'.length;
  const chunks: number[][] = [];
  let chunk: number[] = [];
  let bodyBytes = envelopeBytes;
  itemBytes.forEach((bytes, index) => {
    const added = chunk.length > 0 ? bytes + 1 : bytes;
    if (chunk.length > 0 && (chunk.length === MAX_BATCH_ITEMS || bodyBytes + added > maxBodyBytes)) {
      chunks.push(chunk);
      chunk = [];
      bodyBytes = envelopeBytes;
    }
    bodyBytes += chunk.length > 0 ? bytes + 1 : bytes;
    chunk.push(index);
  });
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}
