import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { PublisherRequest } from '../auth/api-key.guard';

const ALLOWED = Promise.resolve(true);

/**
 * PUBLISH_RATE_LIMIT: publish requests per second per API key, across the cluster (the storage is
 * the engine's). Runs after ApiKeyGuard, which names the key. Single and batch publishes share one
 * budget. 429 with Retry-After when it is spent; off when the limit is 0.
 */
@Injectable()
export class PublishRateLimitGuard extends ThrottlerGuard {
  protected override getTracker(request: PublisherRequest): Promise<string> {
    return Promise.resolve(request.apiKeyName ?? 'anonymous');
  }

  protected override generateKey(_context: ExecutionContext, tracker: string): string {
    return `publish:${tracker}`;
  }

  /** With the limit off, one settled answer: no tracker, no key, no storage call per request. */
  override canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.throttlers.every((throttler) => throttler.limit === 0)) return ALLOWED;
    return super.canActivate(context);
  }
}
