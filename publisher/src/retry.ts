/**
 * When a publish is tried again. Herald's answers that mean "try again" (docs/PROTOCOL.md):
 * - 503: the engine is unavailable (`Retry-After`); nothing was stored, or — under the same
 *   Idempotency-Key — a retry completes what was stored without a duplicate;
 * - 429: rate limited (`Retry-After`);
 * - 409: a request with the same Idempotency-Key is still in progress elsewhere;
 * - 502 and 504: a proxy in front of Herald got no answer from it;
 * - no answer at all (connection refused or reset, an attempt timed out): the request may or may not
 *   have been processed — exactly the case the Idempotency-Key exists for.
 * Everything else (400, 401, 403, 404, 413, 415, 422, 500) is final.
 */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([409, 429, 502, 503, 504]);

export interface RetryOptions {
  /** The first backoff step in ms (default 100); step n waits a random time in [0, min(max, base·2ⁿ)). */
  baseDelayMs?: number;
  /** The longest backoff step in ms (default 5,000); a longer `Retry-After` is still honoured. */
  maxDelayMs?: number;
  /** Most attempts after the first, over one call (default unlimited: the deadline ends the retries). */
  maxRetries?: number;
}

export const DEFAULT_RETRY: Required<RetryOptions> = {
  baseDelayMs: 100,
  maxDelayMs: 5000,
  maxRetries: Number.POSITIVE_INFINITY,
};

/**
 * The wait in ms before retry number `retry` (1 for the first retry): full-jitter exponential backoff,
 * and never less than the server's `Retry-After`, plus up to 10 % jitter so that many publishers told
 * the same `Retry-After` do not all come back in the same millisecond.
 */
export function retryDelayMs(
  retry: number,
  retryAfterMs: number | undefined,
  options: Required<RetryOptions>,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined) return retryAfterMs + Math.floor(random() * retryAfterMs * 0.1);
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

/** `Retry-After` in ms: delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or malformed. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
