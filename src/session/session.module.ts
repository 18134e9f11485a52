import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { PushModule } from '../push/push.module';
import { ChannelHub } from './channel-hub';
import { HandshakeGate } from './handshake';
import { Heartbeat } from './heartbeat';
import { SessionRegistry } from './session-registry';
import { SessionService } from './session.service';

/** The transport-neutral session layer: admission, session rules, channels and their order. */
@Module({
  imports: [AuthModule, PushModule],
  providers: [ChannelHub, HandshakeGate, Heartbeat, SessionRegistry, SessionService],
  exports: [ChannelHub, HandshakeGate, SessionRegistry, SessionService],
})
export class SessionModule {}
