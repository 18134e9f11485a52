import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { ClientIdentity, ClientTokenVerifier, InvalidTokenError } from '../auth/client-token';
import { ChannelPosition } from '../broker/broker';

/** What the handshake established about a connection that may be upgraded. */
export interface Admission {
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

/**
 * Decides, before any WebSocket exists, whether an upgrade request may become a connection: a valid
 * token (Authorization: Bearer, or `access_token` for browsers), a well-formed recovery query, and
 * the service not draining.
 */
@Injectable()
export class HandshakeGate {
  private draining = false;

  constructor(@Inject(ClientTokenVerifier) private readonly tokens: ClientTokenVerifier) {}

  /** From now on every upgrade is refused with 503 (graceful shutdown). */
  drain(): void {
    this.draining = true;
  }

  admit(request: IncomingMessage): Promise<HandshakeResult> {
    return Promise.resolve(this.check(request));
  }

  private check(request: IncomingMessage): HandshakeResult {
    if (this.draining) {
      return {
        refused: { status: 503, message: 'server is shutting down', headers: { 'Retry-After': '1' } },
      };
    }
    const query = new URL(request.url ?? '/', 'http://localhost').searchParams;
    const token = bearer(request.headers.authorization) ?? query.get('access_token');
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
      identity = this.tokens.verify(token);
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
    return { admitted: { identity, recovery } };
  }
}

function bearer(header: string | undefined): string | undefined {
  return header?.startsWith('Bearer ') ? header.slice(7).trim() || undefined : undefined;
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
