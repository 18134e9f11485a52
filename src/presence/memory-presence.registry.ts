import { PresenceEntry, PresenceRegistry } from './presence.registry';

/** The embedded engine's registry: one replica, so this process knows every connection. */
export class MemoryPresenceRegistry extends PresenceRegistry {
  /** userId → connectionId → expiry (ms since the epoch) */
  private readonly users = new Map<string, Map<string, number>>();

  admit(entry: PresenceEntry, max: number, ttlMs: number): Promise<boolean> {
    const connections = this.live(entry.userId);
    if (connections.size >= max) return Promise.resolve(false);
    connections.set(entry.connectionId, Date.now() + ttlMs);
    this.users.set(entry.userId, connections);
    return Promise.resolve(true);
  }

  refresh(entries: readonly PresenceEntry[], ttlMs: number): Promise<void> {
    const expiry = Date.now() + ttlMs;
    for (const { userId, connectionId } of entries) {
      const connections = this.users.get(userId) ?? new Map<string, number>();
      connections.set(connectionId, expiry);
      this.users.set(userId, connections);
    }
    return Promise.resolve();
  }

  remove({ userId, connectionId }: PresenceEntry): Promise<void> {
    const connections = this.users.get(userId);
    connections?.delete(connectionId);
    if (connections?.size === 0) this.users.delete(userId);
    return Promise.resolve();
  }

  count(userId: string): Promise<number> {
    return Promise.resolve(this.live(userId).size);
  }

  private live(userId: string): Map<string, number> {
    const connections = this.users.get(userId) ?? new Map<string, number>();
    const now = Date.now();
    for (const [id, expiry] of connections) if (expiry <= now) connections.delete(id);
    return connections;
  }
}
