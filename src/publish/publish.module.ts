import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { PublishController } from './publish.controller';
import { PublishService } from './publish.service';
import { IdempotentExecution } from '../idempotency/idempotent-execution';

@Module({
  imports: [AuthModule],
  controllers: [PublishController],
  providers: [PublishService, IdempotentExecution],
  exports: [PublishService],
})
export class PublishModule {}
