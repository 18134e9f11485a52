import { CanActivate, ExecutionContext, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiKey, AppConfig } from '../config/app-config';

export interface PublisherRequest {
  headers: Record<string, string | string[] | undefined>;
  /** Set by {@link ApiKeyGuard}: the name (never the secret) of the key that authenticated. */
  apiKeyName?: string;
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Publisher endpoints: `Authorization: Bearer <api key>`. Keys are compared in constant time
 * (fixed-length digests, every key checked) so the response time says nothing about a key.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly keys: { key: ApiKey; digest: Buffer }[];

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
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) return undefined;
    const presented = digest(header.slice(7).trim());
    let match: string | undefined;
    for (const { key, digest: expected } of this.keys) {
      if (timingSafeEqual(presented, expected)) match = key.name;
    }
    return match;
  }
}
