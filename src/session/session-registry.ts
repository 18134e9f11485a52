import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Disconnect } from '../common/close-codes';
import { AppConfig } from '../config/app-config';
import { Metrics } from '../metrics/metrics';
import { PresenceEntry, PresenceRegistry } from '../presence/presence.registry';
import type { Session } from './session';

/**
 * This replica's sessions, and their presence in the cluster — the one place that speaks to the
 * presence registry: a connection is admitted there before it exists (so the per-user cap holds under
 * concurrent connects on several replicas), refreshed by the heartbeat, and released when it ends or
 * when its upgrade never completed.
 */
@Injectable()
export class SessionRegistry {
  private readonly logger = new Logger(SessionRegistry.name);
  private readonly sessions = new Set<Session>();

  constructor(
    @Inject(PresenceRegistry) private readonly presence: PresenceRegistry,
    @Inject(AppConfig) private readonly config: AppConfig,
    @Inject(Metrics) private readonly metrics: Metrics,
  ) {}

  /** How long a presence entry lives without a heartbeat refresh. */
  get presenceTtlMs(): number {
    return 2 * this.config.heartbeatIntervalMs;
  }

  get count(): number {
    return this.sessions.size;
  }

  all(): IterableIterator<Session> {
    return this.sessions.values();
  }

  /**
   * Counts a connection-to-be in presence unless its user already holds MAX_CONNECTIONS_PER_USER
   * across the cluster (false). Rejects when the engine cannot be asked.
   */
  admit(entry: PresenceEntry): Promise<boolean> {
    return this.presence.admit(entry, this.config.maxConnectionsPerUser, this.presenceTtlMs);
  }

  /** Undoes an admission that never became a session, or that of a session that ended. */
  release(entry: PresenceEntry): void {
    this.presence
      .remove(entry)
      .catch((error: Error) => this.logger.warn(`presence removal failed: ${error.message}`));
  }

  add(session: Session): void {
    this.sessions.add(session);
    this.metrics.connections.inc();
  }

  /** Forgets an ended session and releases its presence entry. */
  remove(session: Session): void {
    if (!this.sessions.delete(session)) return;
    this.metrics.connections.dec();
    this.release({ userId: session.userId, connectionId: session.id });
  }

  /** Pushes the presence entries of the given live sessions forward, in one round trip. */
  refresh(alive: readonly Session[]): void {
    this.presence
      .refresh(
        alive.map((session) => ({ userId: session.userId, connectionId: session.id })),
        this.presenceTtlMs,
      )
      .catch((error: Error) => this.logger.warn(`presence refresh failed: ${error.message}`));
  }

  /** Ends every session (graceful shutdown). */
  closeAll(disconnect: Disconnect): void {
    for (const session of this.sessions) session.close(disconnect);
  }

  /** Cuts every socket at once (after the graceful close had its chance). */
  terminateAll(): void {
    for (const session of this.sessions) session.transport.terminate();
  }
}
