import { Inject, Injectable } from '@nestjs/common';
import jwt from 'jsonwebtoken';
import { AppConfig } from '../config/app-config';
import { PublishNotificationDto } from '../publish/publish-notification.dto';
import { PublishResult, PublishService } from '../publish/publish.service';

/** How long a demo client token is valid; the page's SDK fetches a new one before it runs out. */
export const DEMO_TOKEN_TTL_SECONDS = 3600;

export interface DemoToken {
  token: string;
  userId: string;
  /** ISO-8601 UTC, the token's `exp`. */
  expiresAt: string;
}

/**
 * What the demo page needs and a browser must never have in production: client tokens for any user,
 * and publishing without an API key. Registered only when NODE_ENV is not `production`.
 */
@Injectable()
export class DemoService {
  constructor(
    @Inject(AppConfig) private readonly config: AppConfig,
    @Inject(PublishService) private readonly publisher: PublishService,
  ) {}

  /** An HS256 client token for `userId`, allowed on every topic, valid {@link DEMO_TOKEN_TTL_SECONDS}. */
  mintToken(userId: string): DemoToken {
    const exp = Math.floor(Date.now() / 1000) + DEMO_TOKEN_TTL_SECONDS;
    const token = jwt.sign({ sub: userId, topics: ['*'], exp }, this.config.jwtSecret, {
      algorithm: 'HS256',
    });
    return { token, userId, expiresAt: new Date(exp * 1000).toISOString() };
  }

  /**
   * Publishes in-process, as `POST /v1/notifications` would with the dev API key (no idempotency key,
   * no rate limit): the page never sees a publisher secret.
   */
  publish(request: PublishNotificationDto): Promise<PublishResult> {
    return this.publisher.publish(request);
  }
}
