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

/** Runs an engine command; any failure becomes an {@link EngineUnavailableError} (503 for publishers). */
export async function engineCall<T>(command: () => Promise<T>): Promise<T> {
  try {
    return await command();
  } catch (error) {
    throw new EngineUnavailableError(error);
  }
}
