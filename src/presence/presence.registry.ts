/** One connection as presence knows it. */
export interface PresenceEntry {
  userId: string;
  connectionId: string;
}

/**
 * Who is connected, cluster-wide, without asking the replicas: each connection is an entry with an
 * expiry that its replica's heartbeat pushes forward. A replica that dies stops refreshing, and its
 * connections stop counting when their entries expire (within 2 heartbeat intervals).
 */
export abstract class PresenceRegistry {
  /**
   * Adds the connection unless the user already holds `max` live connections; returns false when the
   * cap is reached. Atomic, so concurrent connects on several replicas cannot overshoot the cap.
   */
  abstract admit(entry: PresenceEntry, max: number, ttlMs: number): Promise<boolean>;

  /**
   * Pushes the expiry of this replica's live connections forward (one round trip for all), adding
   * back any entry the engine no longer has (expired during a stall, lost by a Redis restart).
   */
  abstract refresh(entries: readonly PresenceEntry[], ttlMs: number): Promise<void>;

  abstract remove(entry: PresenceEntry): Promise<void>;

  /** Live connections of the user across the cluster. */
  abstract count(userId: string): Promise<number>;
}
