import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { PublishController } from './publish.controller';
import { PublishService } from './publish.service';

@Module({ imports: [AuthModule], controllers: [PublishController], providers: [PublishService] })
export class PublishModule {}
