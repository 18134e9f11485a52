import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ClientIdentity, ClientTokenVerifier, InvalidTokenError } from '../auth/client-token';
import { bearerCredentials, queryToken } from '../auth/credentials';
import { ChannelPosition } from '../broker/broker';
import { TokenBucket } from '../common/token-bucket';
import { AppConfig } from '../config/app-config';
import { PresenceRegistry } from '../presence/presence.registry';

/** What the handshake established about a connection that may be upgraded. */
export interface Admission {
  connectionId: string;
  identity: ClientIdentity;
  /** `offset`/`epoch` query: recover the personal channel from there. */
  recovery?: ChannelPosition;
}

/** A refusal written as a plain HTTP response instead of the upgrade. */
export interface Refusal {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

export type HandshakeResult = { admitted: Admission } | { refused: Refusal };

const retryLater = (message: string): { refused: Refusal } => ({
  refused: { status: 503, message, headers: { 'Retry-After': '1' } },
});

/**
 * Decides, before any WebSocket exists, whether an upgrade request may become a connection, in this
 * order: the service is not draining (503); the replica's CONNECT_RATE_LIMIT has room (503 +
 * Retry-After, so a reconnect storm is spread out); a valid token — `Authorization: Bearer`, or
 * `access_token` for browsers (401); a well-formed recovery query (400); and fewer than
 * MAX_CONNECTIONS_PER_USER connections of the user across the cluster (429). Admitted connections are
 * registered in presence here, so the cap holds under concurrent connects.
 */
@Injectable()
export class HandshakeGate {
  private readonly logger = new Logger(HandshakeGate.name);
  private draining = false;
  private readonly connectRate: TokenBucket | undefined;

  constructor(
    @Inject(ClientTokenVerifier) private readonly tokens: ClientTokenVerifier,
    @Inject(PresenceRegistry) private readonly presence: PresenceRegistry,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {
    this.connectRate = config.connectRateLimit > 0 ? new TokenBucket(config.connectRateLimit) : undefined;
  }

  /** From now on every upgrade is refused with 503 (graceful shutdown). */
  drain(): void {
    this.draining = true;
  }

  /** How long a presence entry lives without a heartbeat refresh. */
  get presenceTtlMs(): number {
    return 2 * this.config.heartbeatIntervalMs;
  }

  /** `query`: the upgrade URL's parameters (parsed once, by the adapter). */
  async admit(request: IncomingMessage, query: URLSearchParams): Promise<HandshakeResult> {
    if (this.draining) return retryLater('server is shutting down');
    if (this.connectRate && !this.connectRate.tryTake())
      return retryLater('too many new connections; retry shortly');
    const checked = await this.check(request, query);
    if ('refused' in checked) return checked;
    const { identity } = checked.admitted;
    try {
      const admitted = await this.presence.admit(
        { userId: identity.userId, connectionId: checked.admitted.connectionId },
        this.config.maxConnectionsPerUser,
        this.presenceTtlMs,
      );
      if (!admitted) {
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
    return checked;
  }

  /** Undoes an admission whose client went away before the upgrade. */
  forget(admission: Admission): void {
    this.presence
      .remove({ userId: admission.identity.userId, connectionId: admission.connectionId })
      .catch((error: Error) => this.logger.warn(`presence removal failed: ${error.message}`));
  }

  private async check(request: IncomingMessage, query: URLSearchParams): Promise<HandshakeResult> {
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
    const recovery = parseRecovery(query.get('offset'), query.get('epoch'));
    if (recovery === 'invalid') {
      return {
        refused: { status: 400, message: '`offset` (a non-negative integer) and `epoch` go together' },
      };
    }
    return { admitted: { connectionId: randomUUID(), identity, recovery } };
  }
}

function parseRecovery(offset: string | null, epoch: string | null): ChannelPosition | undefined | 'invalid' {
  if (offset === null && epoch === null) return undefined;
  if (
    offset === null ||
    epoch === null ||
    !/^\d{1,15}$/.test(offset) ||
    epoch.length === 0 ||
    epoch.length > 100
  ) {
    return 'invalid';
  }
  return { offset: Number(offset), epoch };
}
