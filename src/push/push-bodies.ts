import { ECDH } from 'node:crypto';
import type { AckBody, PushSubscriptionBody } from '../protocol/wire';
import { readAckIds } from './ack-ids';
import { MAX_ENDPOINT_LENGTH } from './push-endpoint';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const unknownFields = (body: Record<string, unknown>, known: readonly string[]): string[] =>
  Object.keys(body)
    .filter((key) => !known.includes(key))
    .map((key) => `property ${key} should not exist`);

/** base64url, `=` padding tolerated (browsers differ), decoded; undefined when it is not that. */
function base64url(value: unknown): Buffer | undefined {
  return typeof value === 'string' && /^[A-Za-z0-9_-]+={0,2}$/.test(value)
    ? Buffer.from(value.replace(/=+$/, ''), 'base64url')
    : undefined;
}

function isP256Point(key: Buffer): boolean {
  try {
    ECDH.convertKey(key, 'prime256v1');
    return key.length === 65 && key[0] === 0x04;
  } catch {
    return false;
  }
}

/** `POST /v1/acks` body: `{ids: [...]}`, 1–100 notification ids. */
export class AckBodyDto implements AckBody {
  ids!: string[];

  static validate(body: Record<string, unknown>): AckBodyDto | string[] {
    const problems = unknownFields(body, ['ids']);
    const ids = readAckIds(body.ids);
    if ('problem' in ids) problems.push(ids.problem);
    return problems.length > 0 ? problems : Object.assign(new AckBodyDto(), { ids });
  }
}

/** `POST /v1/push/subscriptions` body: what `PushSubscription.toJSON()` gives in a browser. */
export class PushSubscriptionDto implements PushSubscriptionBody {
  endpoint!: string;
  keys!: { p256dh: string; auth: string };
  expirationTime!: number | null;

  static validate(body: Record<string, unknown>): PushSubscriptionDto | string[] {
    const problems = unknownFields(body, ['endpoint', 'keys', 'expirationTime']);
    const { endpoint, keys, expirationTime = null } = body;
    if (typeof endpoint !== 'string' || endpoint.length > MAX_ENDPOINT_LENGTH || !URL.canParse(endpoint))
      problems.push(`endpoint must be a URL of at most ${MAX_ENDPOINT_LENGTH} characters`);
    if (!isObject(keys)) problems.push('keys must be an object {p256dh, auth}');
    else {
      problems.push(...unknownFields(keys, ['p256dh', 'auth']).map((problem) => `keys: ${problem}`));
      const p256dh = base64url(keys.p256dh);
      if (!p256dh || !isP256Point(p256dh))
        problems.push('keys.p256dh must be base64url of an uncompressed P-256 public key (65 bytes)');
      if (base64url(keys.auth)?.length !== 16) problems.push('keys.auth must be base64url of 16 bytes');
    }
    if (expirationTime !== null && !(Number.isSafeInteger(expirationTime) && (expirationTime as number) >= 0))
      problems.push('expirationTime must be null or a time in ms since the epoch');
    if (problems.length > 0) return problems;
    const { p256dh, auth } = keys as { p256dh: string; auth: string };
    return Object.assign(new PushSubscriptionDto(), {
      endpoint: endpoint as string,
      keys: { p256dh: p256dh.replace(/=+$/, ''), auth: auth.replace(/=+$/, '') },
      expirationTime: expirationTime as number | null,
    });
  }
}
