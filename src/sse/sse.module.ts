import { Module } from '@nestjs/common';
import { SessionModule } from '../session/session.module';
import { SseController } from './sse.controller';

/** The Server-Sent Events transport: `GET /v1/sse`. */
@Module({ imports: [SessionModule], controllers: [SseController] })
export class SseModule {}
