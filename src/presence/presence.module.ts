import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { PresenceController } from './presence.controller';

@Module({ imports: [AuthModule], controllers: [PresenceController] })
export class PresenceModule {}
