import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { ConnectionHub } from './connection-hub';
import { HandshakeGate } from './handshake';
import { Heartbeat } from './heartbeat';
import { NotificationsGateway } from './notifications.gateway';

@Module({
  imports: [AuthModule],
  providers: [ConnectionHub, HandshakeGate, Heartbeat, NotificationsGateway],
  exports: [ConnectionHub, HandshakeGate],
})
export class GatewayModule {}
