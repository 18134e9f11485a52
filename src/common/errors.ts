/**
 * The engine (Redis) could not do what was asked. Publish answers 503 with Retry-After: nothing was
 * stored, so the publisher may retry.
 */
export class EngineUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`engine unavailable: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'EngineUnavailableError';
  }
}
