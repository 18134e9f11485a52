import { Logger } from '@nestjs/common';
import Redis from 'ioredis';

/** How long a command may take before it fails (and publish answers 503) instead of hanging. */
export const COMMAND_TIMEOUT_MS = 3000;
const CONNECT_TIMEOUT_MS = 5000;
const MAX_RECONNECT_DELAY_MS = 2000;

export class RedisUnreachableError extends Error {
  constructor(url: string, cause: unknown) {
    super(
      `REDIS_URL=${redactUrl(url)} is unreachable: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
    this.name = 'RedisUnreachableError';
  }
}

/** The URL with any password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<malformed>';
  }
}

/**
 * A client for commands: no offline queue and no resending after a reconnect (a publish that fails
 * must fail at once, so that the publisher gets 503 and retries, never a duplicate later). Commands
 * issued in one tick go out in one write (auto-pipelining).
 */
export function createCommandClient(url: string, logger: Logger, onReconnect: () => void): Redis {
  return withErrorLog(
    new Redis(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectTimeout: CONNECT_TIMEOUT_MS,
      retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
    }),
    'commands',
    logger,
    onReconnect,
  );
}

/** A client for pub/sub: it queues (re)subscriptions while disconnected and resubscribes on reconnect. */
export function createSubscriberClient(url: string, logger: Logger, onReconnect: () => void): Redis {
  return withErrorLog(
    new Redis(url, {
      lazyConnect: true,
      autoResubscribe: true,
      maxRetriesPerRequest: null,
      connectTimeout: CONNECT_TIMEOUT_MS,
      retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
    }),
    'subscriber',
    logger,
    onReconnect,
  );
}

/** Connects, or fails start-up with a message that names REDIS_URL. */
export async function connectOrFail(client: Redis, url: string): Promise<void> {
  // ioredis rejects connect() with a generic "Connection is closed."; the `error` event says why.
  let cause: unknown;
  const remember = (error: Error) => (cause ??= error);
  client.on('error', remember);
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw new RedisUnreachableError(url, cause ?? error);
  } finally {
    client.off('error', remember);
  }
}

/** Logs each distinct error once, and reports every `ready` after the first as a reconnect. */
function withErrorLog(client: Redis, role: string, logger: Logger, onReconnect: () => void): Redis {
  let lastLogged = '';
  let connectedBefore = false;
  client.on('error', (error: Error) => {
    // ioredis emits the same error on every reconnect attempt; log each distinct one once.
    if (error.message === lastLogged) return;
    lastLogged = error.message;
    logger.warn(`redis ${role}: ${error.message}`);
  });
  client.on('ready', () => {
    lastLogged = '';
    if (connectedBefore) {
      logger.log(`redis ${role}: reconnected`);
      onReconnect();
    }
    connectedBefore = true;
  });
  return client;
}
