import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { CloseCode } from '../common/close-codes';
import { AppConfig } from '../config/app-config';
import { PresenceRegistry } from '../presence/presence.registry';
import { ConnectionHub } from './connection-hub';
import { HandshakeGate } from './handshake';

/** How often token expiry is checked: a connection is closed with 4001 at most this long after `exp`. */
const EXPIRY_CHECK_MS = 1000;

/**
 * Every HEARTBEAT_INTERVAL_MS: pings each connection, closes those silent for two intervals (4009),
 * and pushes this replica's presence entries forward in one round trip. Every second: closes the
 * connections whose token expired (4001) — one sweep instead of a timer per connection.
 */
@Injectable()
export class Heartbeat implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(Heartbeat.name);
  private timer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(ConnectionHub) private readonly hub: ConnectionHub,
    @Inject(PresenceRegistry) private readonly presence: PresenceRegistry,
    @Inject(HandshakeGate) private readonly gate: HandshakeGate,
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
    for (const connection of this.hub.all()) {
      if (connection.isOpen && connection.isExpired(now))
        connection.close(CloseCode.TokenExpired, 'token expired');
    }
  }

  private beat(): void {
    const deadline = Date.now() - 2 * this.config.heartbeatIntervalMs;
    const alive = [];
    for (const connection of this.hub.all()) {
      if (connection.lastSeen < deadline) {
        connection.close(CloseCode.HeartbeatTimeout, 'heartbeat timeout');
      } else {
        connection.ping();
        alive.push({ userId: connection.userId, connectionId: connection.id });
      }
    }
    this.presence
      .refresh(alive, this.gate.presenceTtlMs)
      .catch((error: Error) => this.logger.warn(`presence refresh failed: ${error.message}`));
  }
}
