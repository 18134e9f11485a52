import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { CloseCode } from '../common/close-codes';
import { AppConfig } from '../config/app-config';
import { PresenceRegistry } from '../presence/presence.registry';
import { ConnectionHub } from './connection-hub';
import { HandshakeGate } from './handshake';

/**
 * Every HEARTBEAT_INTERVAL_MS: pings each connection, closes those silent for two intervals (4009),
 * and pushes this replica's presence entries forward in one round trip.
 */
@Injectable()
export class Heartbeat implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(Heartbeat.name);
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(ConnectionHub) private readonly hub: ConnectionHub,
    @Inject(PresenceRegistry) private readonly presence: PresenceRegistry,
    @Inject(HandshakeGate) private readonly gate: HandshakeGate,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => this.beat(), this.config.heartbeatIntervalMs);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
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
