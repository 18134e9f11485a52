import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Disconnect } from '../common/close-codes';
import { AppConfig } from '../config/app-config';
import type { Session } from './session';
import { SessionRegistry } from './session-registry';

/** How often token expiry is checked: a session is ended at most this long after `exp`. */
const EXPIRY_CHECK_MS = 1000;

/**
 * Every HEARTBEAT_INTERVAL_MS: a keepalive to each session (WebSocket ping, SSE comment), ends the
 * bidirectional ones silent for two intervals (4009), and pushes this replica's presence entries
 * forward in one round trip. Every second: ends the sessions whose token expired (4001 / SSE
 * `token_expired`) — one sweep instead of a timer per session.
 */
@Injectable()
export class Heartbeat implements OnModuleInit, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(SessionRegistry) private readonly sessions: SessionRegistry,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => this.beat(), this.config.heartbeatIntervalMs);
    this.timer.unref();
    this.expiryTimer = setInterval(() => this.closeExpired(), EXPIRY_CHECK_MS);
    this.expiryTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    clearInterval(this.expiryTimer);
  }

  private closeExpired(): void {
    const now = Date.now();
    for (const session of this.sessions.all()) {
      if (session.isOpen && session.isExpired(now)) session.close(Disconnect.TokenExpired);
    }
  }

  private beat(): void {
    const deadline = Date.now() - 2 * this.config.heartbeatIntervalMs;
    const alive: Session[] = [];
    for (const session of this.sessions.all()) {
      if (session.transport.bidirectional && session.lastSeen < deadline) {
        session.close(Disconnect.HeartbeatTimeout);
      } else {
        session.ping();
        alive.push(session);
      }
    }
    this.sessions.refresh(alive);
  }
}
