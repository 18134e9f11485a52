import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { ThrottlerException, type ThrottlerStorage } from '@nestjs/throttler';
import type { FastifyReply } from 'fastify';
import type { PublisherRequest } from '../auth/api-key.guard';
import { AppConfig } from '../config/app-config';
import { RATE_LIMIT_STORAGE } from '../engine/engine.module';

/** PUBLISH_RATE_LIMIT requests per one-second window per API key. */
const RATE_WINDOW_MS = 1000;

const RATE_LIMITED_MESSAGE =
  'publish rate limit reached (PUBLISH_RATE_LIMIT per second per API key); see Retry-After';

const ALLOWED = Promise.resolve(true);

/**
 * PUBLISH_RATE_LIMIT: publish requests per second per API key, across the cluster (the storage is
 * the engine's, @nestjs/throttler's interface). Single publishes (publish.route.ts, outside Nest) call
 * {@link admit}; batch publishes go through this guard, after ApiKeyGuard, which names the key: one
 * budget for both. It answers as @nestjs/throttler's ThrottlerGuard did: X-RateLimit-Limit,
 * -Remaining and -Reset on every admitted request, 429 with Retry-After when the budget is spent.
 */
@Injectable()
export class PublishRateLimitGuard implements CanActivate {
  private readonly limit: number;

  constructor(
    @Inject(AppConfig) config: AppConfig,
    @Inject(RATE_LIMIT_STORAGE) private readonly storage: ThrottlerStorage,
  ) {
    this.limit = config.publishRateLimit;
  }

  /** With the limit off (0): no tracker, no key, no storage call per request. */
  get off(): boolean {
    return this.limit === 0;
  }

  canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.off) return ALLOWED;
    const http = context.switchToHttp();
    return this.admit(http.getRequest<PublisherRequest>().apiKeyName, http.getResponse<FastifyReply>()).then(
      () => true,
    );
  }

  /** Spends one request of the key's budget; a ThrottlerException (429) when it is spent. */
  async admit(apiKeyName: string | undefined, reply: FastifyReply): Promise<void> {
    const key = `publish:${apiKeyName ?? 'anonymous'}`;
    const { totalHits, timeToExpire, isBlocked, timeToBlockExpire } = await this.storage.increment(
      key,
      RATE_WINDOW_MS,
      this.limit,
      RATE_WINDOW_MS,
      'default',
    );
    if (isBlocked) {
      void reply.header('Retry-After', timeToBlockExpire);
      throw new ThrottlerException(RATE_LIMITED_MESSAGE);
    }
    void reply
      .header('X-RateLimit-Limit', this.limit)
      .header('X-RateLimit-Remaining', Math.max(0, this.limit - totalHits))
      .header('X-RateLimit-Reset', timeToExpire);
  }
}
