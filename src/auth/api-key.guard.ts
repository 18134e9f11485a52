import { CanActivate, ExecutionContext, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiKey, AppConfig } from '../config/app-config';
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

/**
 * Publisher endpoints: `Authorization: Bearer <api key>`. Keys are compared in constant time
 * (fixed-length digests, every key checked) so the response time says nothing about a key.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly keys: { key: ApiKey; digest: Buffer }[];
  /**
   * Headers that already proved to hold a valid key → its name, so that a publisher's every request
   * does not hash again. Only successes are remembered: a guess always takes the constant-time path,
   * and a hit tells the caller nothing the 202 would not.
   */
  private readonly recentlyAuthenticated = new Map<string, string>();

  constructor(@Inject(AppConfig) config: AppConfig) {
    this.keys = config.apiKeys.map((key) => ({ key, digest: digest(key.secret) }));
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<PublisherRequest>();
    const name = this.authenticate(request.headers.authorization);
    if (!name)
      throw new UnauthorizedException('missing or invalid API key (Authorization: Bearer <api key>)');
    request.apiKeyName = name;
    return true;
  }

  authenticate(header: string | string[] | undefined): string | undefined {
    const secret = bearerCredentials(header);
    if (secret === undefined) return undefined;
    const known = this.recentlyAuthenticated.get(secret);
    if (known) return known;
    const presented = digest(secret);
    let match: string | undefined;
    for (const { key, digest: expected } of this.keys) {
      if (timingSafeEqual(presented, expected)) match = key.name;
    }
    if (match) {
      if (this.recentlyAuthenticated.size >= RECENT_KEYS) this.recentlyAuthenticated.clear();
      this.recentlyAuthenticated.set(secret, match);
    }
    return match;
  }
}
