import { Module } from '@nestjs/common';
import { SessionModule } from '../session/session.module';
import { WebSocketEndpoint } from './websocket.endpoint';

/** The WebSocket transport: `GET /v1/ws`. */
@Module({ imports: [SessionModule], providers: [WebSocketEndpoint] })
export class GatewayModule {}
