import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ClientIdentity, ClientTokenVerifier, InvalidTokenError } from '../auth/client-token';
import { bearerCredentials, queryToken } from '../auth/credentials';
import { TokenBucket } from '../common/token-bucket';
import { AppConfig } from '../config/app-config';
import { SessionRegistry } from './session-registry';

/** What the handshake established about a session that may start. */
export interface Admission<T> {
  connectionId: string;
  identity: ClientIdentity;
  /** What the transport read from the request (a recovery position, topics, …). */
  request: T;
}

/** A refusal written as a plain HTTP response instead of the upgrade or the stream. */
export interface Refusal {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

export type HandshakeResult<T> = { admitted: Admission<T> } | { refused: Refusal };

/** What a transport reads from the request once the token is known: its own parameters, or a refusal. */
export type RequestReader<T> = (identity: ClientIdentity) => { value: T } | { refused: Refusal };

const retryLater = (message: string): { refused: Refusal } => ({
  refused: { status: 503, message, headers: { 'Retry-After': '1' } },
});

/**
 * Decides, before any WebSocket or SSE stream exists, whether a request may become a session, in this
 * order: the service is not draining (503); the replica's CONNECT_RATE_LIMIT has room (503 +
 * Retry-After, so a reconnect storm is spread out); a valid token — `Authorization: Bearer`, or
 * `access_token` for browsers (401); the transport's own parameters (400/403, from `read`); and fewer
 * than MAX_CONNECTIONS_PER_USER sessions of the user across the cluster, whatever their transport
 * (429). Admitted sessions are counted in presence here, so the cap holds under concurrent connects;
 * an admission that does not become a session must be given back with {@link forget}.
 */
@Injectable()
export class HandshakeGate {
  private readonly logger = new Logger(HandshakeGate.name);
  private draining = false;
  private readonly connectRate: TokenBucket | undefined;

  constructor(
    @Inject(ClientTokenVerifier) private readonly tokens: ClientTokenVerifier,
    @Inject(SessionRegistry) private readonly sessions: SessionRegistry,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {
    this.connectRate = config.connectRateLimit > 0 ? new TokenBucket(config.connectRateLimit) : undefined;
  }

  /** From now on every request is refused with 503 (graceful shutdown). */
  drain(): void {
    this.draining = true;
  }

  /** `query`: the request URL's parameters (parsed once, by the transport). */
  async admit<T>(
    request: IncomingMessage,
    query: URLSearchParams,
    read: RequestReader<T>,
  ): Promise<HandshakeResult<T>> {
    if (this.draining) return retryLater('server is shutting down');
    if (this.connectRate && !this.connectRate.tryTake())
      return retryLater('too many new connections; retry shortly');
    const token = bearerCredentials(request.headers.authorization) ?? queryToken(query);
    if (!token) {
      return {
        refused: {
          status: 401,
          message: 'missing token (Authorization: Bearer <jwt> or ?access_token=<jwt>)',
        },
      };
    }
    let identity: ClientIdentity;
    try {
      identity = await this.tokens.verify(token);
    } catch (error) {
      if (error instanceof InvalidTokenError) return { refused: { status: 401, message: error.message } };
      throw error;
    }
    const parameters = read(identity);
    if ('refused' in parameters) return parameters;
    const connectionId = randomUUID();
    try {
      if (!(await this.sessions.admit({ userId: identity.userId, connectionId }))) {
        return {
          refused: {
            status: 429,
            message: `at most ${this.config.maxConnectionsPerUser} connections per user`,
          },
        };
      }
    } catch (error) {
      this.logger.warn(`presence unavailable: ${(error as Error).message}`);
      return retryLater('engine unavailable; retry shortly');
    }
    return { admitted: { connectionId, identity, request: parameters.value } };
  }

  /** Gives back an admission whose session never started (the client went, the upgrade failed). */
  forget(admission: Admission<unknown>): void {
    this.sessions.release({ userId: admission.identity.userId, connectionId: admission.connectionId });
  }
}
