import { Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { ClientIdentity, ClientTokenVerifier, InvalidTokenError } from './client-token';
import { bearerCredentials } from './credentials';

/**
 * REST endpoints a client (browser, app) calls with its own token: `Authorization: Bearer <jwt>`,
 * checked by the same rules as the WebSocket and SSE handshakes; 401 otherwise.
 */
@Injectable()
export class ClientRequestAuth {
  constructor(@Inject(ClientTokenVerifier) private readonly tokens: ClientTokenVerifier) {}

  async identify(authorization: string | string[] | undefined): Promise<ClientIdentity> {
    const token = bearerCredentials(authorization);
    if (!token) throw new UnauthorizedException('missing client token (Authorization: Bearer <jwt>)');
    try {
      return await this.tokens.verify(token);
    } catch (error) {
      if (error instanceof InvalidTokenError) throw new UnauthorizedException(error.message);
      throw error;
    }
  }
}
