import { Module } from '@nestjs/common';
import { ThrottlerModule, ThrottlerStorage } from '@nestjs/throttler';
import { AuthModule } from '../auth/auth.module';
import { AppConfig } from '../config/app-config';
import { RATE_LIMIT_STORAGE } from '../engine/engine.module';
import { IdempotentExecution } from '../idempotency/idempotent-execution';
import { PushModule } from '../push/push.module';
import { PublishRateLimitGuard } from '../rate-limit/publish-rate-limit.guard';
import { PublishController } from './publish.controller';
import { PublishService } from './publish.service';

/** PUBLISH_RATE_LIMIT requests per one-second window per API key. */
const RATE_WINDOW_MS = 1000;

@Module({
  imports: [
    AuthModule,
    PushModule,
    ThrottlerModule.forRootAsync({
      inject: [AppConfig, RATE_LIMIT_STORAGE],
      useFactory: (config: AppConfig, storage: ThrottlerStorage) => ({
        throttlers: [{ ttl: RATE_WINDOW_MS, limit: config.publishRateLimit }],
        storage,
        errorMessage: `publish rate limit reached (PUBLISH_RATE_LIMIT per second per API key); see Retry-After`,
      }),
    }),
  ],
  controllers: [PublishController],
  providers: [PublishService, IdempotentExecution, PublishRateLimitGuard],
  exports: [PublishService],
})
export class PublishModule {}
