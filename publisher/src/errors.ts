import type { ErrorBody } from './wire';

/**
 * Why a call failed:
 * - `http`: Herald (or a proxy in front of it) answered with a status that is not retried, e.g. 400
 *   (fix the call: `message` names the field), 401/403 (the API key), 404, 413, 422 (the same
 *   Idempotency-Key with a different body) — or a retryable one (503…) once `maxRetries` ran out;
 * - `network`: no answer at all (connection refused or reset, DNS, an attempt timed out), once
 *   `maxRetries` ran out;
 * - `deadline`: the call's deadline passed while it was still being retried; `status` is the last
 *   answer's (e.g. 503) or 0 when the last attempt got none;
 * - `aborted`: the caller's `signal` fired;
 * - `local`: refused before anything was sent (a body that does not fit `MAX_PAYLOAD_BYTES` even when
 *   its `users` are split, an invalid client-token claim).
 */
export type HeraldErrorKind = 'http' | 'network' | 'deadline' | 'aborted' | 'local';

export interface HeraldErrorDetails {
  kind: HeraldErrorKind;
  /** The HTTP status of the answer; 0 when there was none. */
  status: number;
  /** The error body's `error` (`Bad Request`, `Service Unavailable`…), or the kind's name when there was no answer. */
  error: string;
  message: string;
  /** The answer's `X-Request-Id` (Herald's log lines carry it). */
  requestId?: string;
  /** How many attempts were made after the first. */
  retries?: number;
  cause?: unknown;
}

/** Every failure of the publisher SDK: never a bare `Error('fetch failed')`. */
export class HeraldError extends Error {
  readonly kind: HeraldErrorKind;
  readonly status: number;
  readonly error: string;
  readonly requestId: string | undefined;
  readonly retries: number;

  constructor(details: HeraldErrorDetails) {
    super(details.message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'HeraldError';
    this.kind = details.kind;
    this.status = details.status;
    this.error = details.error;
    this.requestId = details.requestId;
    this.retries = details.retries ?? 0;
  }

  /** The `{statusCode, error, message}` shape of Herald's own error bodies (as in a batch item's result). */
  toJSON(): ErrorBody & { kind: HeraldErrorKind; requestId?: string; retries: number } {
    return {
      statusCode: this.status,
      error: this.error,
      message: this.message,
      kind: this.kind,
      ...(this.requestId === undefined ? {} : { requestId: this.requestId }),
      retries: this.retries,
    };
  }
}
