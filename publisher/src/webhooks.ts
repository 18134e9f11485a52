import { createHmac, timingSafeEqual } from 'node:crypto';
import type { WebhookEvent } from './wire';

/** The header Herald signs every webhook in: `t=<unix ms>,v1=<hex HMAC-SHA256>`. */
export const WEBHOOK_SIGNATURE_HEADER = 'herald-signature';

export const DEFAULT_WEBHOOK_TOLERANCE_MS = 5 * 60 * 1000;

export interface VerifyWebhookOptions {
  /** How far `t` may be from now, either way (default 5 minutes): an older capture is not replayable. */
  toleranceMs?: number;
  /** The receiver's clock, Unix ms (default `Date.now()`). */
  now?: number;
}

export type WebhookVerificationReason =
  'no_signature' | 'malformed_signature' | 'stale' | 'mismatch' | 'malformed_body';

/** A webhook that is not provably Herald's: answer it 400 (or 401) and do not act on it. */
export class WebhookVerificationError extends Error {
  constructor(
    readonly reason: WebhookVerificationReason,
    message: string,
  ) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

/**
 * Checks a webhook from Herald and returns its event: `signatureHeader` (the `Herald-Signature`
 * value) must carry a `t` within `toleranceMs` of now and a `v1` equal to the HMAC-SHA256 of
 * `"<t>.<rawBody>"` under `secret` (WEBHOOK_SECRET; during a rotation, pass the old and the new).
 * `rawBody` must be the bytes as received — a re-serialized JSON object does not verify. Compares in
 * constant time; throws a {@link WebhookVerificationError} saying why when it does not verify.
 * Retries of one event carry the same `id`: deduplicate on it.
 */
export function verifyWebhook(
  rawBody: string | Uint8Array,
  signatureHeader: string | readonly string[] | undefined,
  secret: string | readonly string[],
  { toleranceMs = DEFAULT_WEBHOOK_TOLERANCE_MS, now = Date.now() }: VerifyWebhookOptions = {},
): WebhookEvent {
  const header = Array.isArray(signatureHeader)
    ? signatureHeader.join(',')
    : (signatureHeader as string | undefined);
  if (!header) throw new WebhookVerificationError('no_signature', 'no Herald-Signature header');
  const { timestamp, signatures } = parseSignature(header);
  if (Math.abs(now - timestamp) > toleranceMs) {
    throw new WebhookVerificationError(
      'stale',
      `the signature's timestamp is more than ${toleranceMs} ms from now`,
    );
  }
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : Buffer.from(rawBody);
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0 || secrets.some((candidate) => candidate.length === 0)) {
    throw new TypeError('verifyWebhook needs a non-empty secret');
  }
  const matches = secrets.some((candidate) => {
    const expected = createHmac('sha256', candidate).update(`${timestamp}.`).update(body).digest();
    // Every candidate is compared (no early exit on the first byte that differs).
    return signatures.reduce((found, signature) => timingSafeEqual(signature, expected) || found, false);
  });
  if (!matches)
    throw new WebhookVerificationError('mismatch', 'the signature does not match the body and secret');
  try {
    return JSON.parse(body.toString('utf8')) as WebhookEvent;
  } catch {
    throw new WebhookVerificationError('malformed_body', 'the signed body is not JSON');
  }
}

/** `t=<digits>` once and one or more `v1=<64 hex>`; other schemes (a future `v2`) are ignored. */
function parseSignature(header: string): { timestamp: number; signatures: Buffer[] } {
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const [key, value = ''] = part.trim().split('=', 2);
    if (key === 't' && /^\d{1,16}$/.test(value) && timestamp === undefined) timestamp = Number(value);
    else if (key === 'v1' && /^[0-9a-fA-F]{64}$/.test(value)) signatures.push(Buffer.from(value, 'hex'));
  }
  if (timestamp === undefined || signatures.length === 0) {
    throw new WebhookVerificationError(
      'malformed_signature',
      'Herald-Signature must be t=<unix ms>,v1=<hex>',
    );
  }
  return { timestamp, signatures };
}
