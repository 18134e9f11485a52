import { createHmac } from 'node:crypto';

/** The header that carries the signature: `t=<unix ms>,v1=<hex HMAC-SHA256>`. */
export const SIGNATURE_HEADER = 'Herald-Signature';

/**
 * The `Herald-Signature` value of one attempt: `t` is the attempt's time (Unix ms), `v1` the hex
 * HMAC-SHA256 of `"<t>.<raw body>"` under WEBHOOK_SECRET. Each attempt signs anew (a new `t`), so a
 * receiver's timestamp tolerance never rejects a late retry; the body, and its `id`, stay the same.
 */
export function signWebhook(secret: string, rawBody: string, timestampMs: number): string {
  const t = String(Math.floor(timestampMs));
  const v1 = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest('hex');
  return `t=${t},v1=${v1}`;
}
