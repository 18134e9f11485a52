import { Global, Inject, Injectable, Logger, Module } from '@nestjs/common';
import { CloseCode, Disconnect } from '../common/close-codes';
import { HandshakeGate } from '../session/handshake';
import { SessionModule } from '../session/session.module';
import { SessionRegistry } from '../session/session-registry';

/** How long closing clients get to complete their 1012 close before their sockets are cut. */
const CLOSE_GRACE_MS = 500;

/**
 * Graceful drain, on SIGTERM/SIGINT: readiness answers 503, new upgrades are refused, every client is
 * closed with 1012 (reconnect elsewhere and recover). Then the app closes (HTTP server, Redis).
 * Nothing accepted is lost: every 202 was stored in history before it was answered.
 */
@Injectable()
export class Lifecycle {
  private readonly logger = new Logger(Lifecycle.name);
  private isDraining = false;

  constructor(
    @Inject(HandshakeGate) private readonly gate: HandshakeGate,
    @Inject(SessionRegistry) private readonly sessions: SessionRegistry,
  ) {}

  get draining(): boolean {
    return this.isDraining;
  }

  async drain(): Promise<void> {
    if (this.isDraining) return;
    this.isDraining = true;
    this.gate.drain();
    this.logger.log(`draining: closing ${this.sessions.count} connections with ${CloseCode.ServiceRestart}`);
    this.sessions.closeAll(Disconnect.ServiceRestart);
    const deadline = Date.now() + CLOSE_GRACE_MS;
    while (this.sessions.count > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // A client that has not finished the closing handshake by now (not reading) must not hold the exit.
    this.sessions.terminateAll();
  }
}

@Global()
@Module({ imports: [SessionModule], providers: [Lifecycle], exports: [Lifecycle] })
export class LifecycleModule {}
