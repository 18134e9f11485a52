import {
  applyDecorators,
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  SetMetadata,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiBearerAuth } from '@nestjs/swagger';
import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiKey, ApiScope, AppConfig } from '../config/app-config';
import { bearerCredentials } from './credentials';

export interface PublisherRequest {
  headers: Record<string, string | string[] | undefined>;
  /** Set by {@link ApiKeyGuard}: the name (never the secret) of the key that authenticated. */
  apiKeyName?: string;
  /** The request id (Fastify's, from X-Request-Id or generated). */
  id?: string;
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** How many authenticated headers to remember (one per key in use, plus headroom). */
const RECENT_KEYS = 1000;

const SCOPE = 'herald:api-key-scope';

export const MISSING_API_KEY_MESSAGE = 'missing or invalid API key (Authorization: Bearer <api key>)';

/**
 * A publisher endpoint: an API key with `scope` (`Authorization: Bearer <api key>`) — 401 without a
 * valid key, 403 naming the scope when the key lacks it, both before the body is validated.
 */
export const ApiKeyWithScope = (scope: ApiScope): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(SCOPE, scope), UseGuards(ApiKeyGuard), ApiBearerAuth('apiKey'));

/**
 * Publisher endpoints: `Authorization: Bearer <api key>`. Keys are compared in constant time
 * (fixed-length digests, every key checked) so the response time says nothing about a key. The scope
 * a route needs comes from {@link ApiKeyWithScope}.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly keys: { key: ApiKey; digest: Buffer }[];
  /**
   * Secrets that already proved to be a valid key → that key, so that a publisher's every request
   * does not hash again. Only successes are remembered: a guess always takes the constant-time path,
   * and a hit tells the caller nothing the 202 would not.
   */
  private readonly recentlyAuthenticated = new Map<string, ApiKey>();

  constructor(
    @Inject(AppConfig) config: AppConfig,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {
    this.keys = config.apiKeys.map((key) => ({ key, digest: digest(key.secret) }));
  }

  canActivate(context: ExecutionContext): boolean {
    const scope = this.reflector.getAllAndOverride<ApiScope | undefined>(SCOPE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (scope === undefined) throw new Error('ApiKeyGuard on a route without ApiKeyWithScope(...)');
    const request = context.switchToHttp().getRequest<PublisherRequest>();
    request.apiKeyName = this.authorize(request.headers.authorization, scope).name;
    return true;
  }

  /** The key of an `Authorization` header that has `scope`: else a 401 (no valid key) or a 403. */
  authorize(header: string | string[] | undefined, scope: ApiScope): ApiKey {
    const key = this.authenticate(header);
    if (!key) throw new UnauthorizedException(MISSING_API_KEY_MESSAGE);
    if (!key.scopes.has(scope))
      throw new ForbiddenException(`API key "${key.name}" lacks the "${scope}" scope this endpoint needs`);
    return key;
  }

  authenticate(header: string | string[] | undefined): ApiKey | undefined {
    const secret = bearerCredentials(header);
    if (secret === undefined) return undefined;
    const known = this.recentlyAuthenticated.get(secret);
    if (known) return known;
    const presented = digest(secret);
    let match: ApiKey | undefined;
    for (const { key, digest: expected } of this.keys) {
      if (timingSafeEqual(presented, expected)) match = key;
    }
    if (match) {
      if (this.recentlyAuthenticated.size >= RECENT_KEYS) this.recentlyAuthenticated.clear();
      this.recentlyAuthenticated.set(secret, match);
    }
    return match;
  }
}
