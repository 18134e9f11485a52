import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { IdempotentExecution } from '../idempotency/idempotent-execution';
import { PushModule } from '../push/push.module';
import { PublishRateLimitGuard } from '../rate-limit/publish-rate-limit.guard';
import { PublishController } from './publish.controller';
import { PublishService } from './publish.service';

@Module({
  imports: [AuthModule, PushModule],
  controllers: [PublishController],
  providers: [PublishService, IdempotentExecution, PublishRateLimitGuard],
  exports: [PublishService],
})
export class PublishModule {}
