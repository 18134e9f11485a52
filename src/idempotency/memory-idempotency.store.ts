import { randomUUID } from 'node:crypto';
import { ClaimResult, IdempotencyRecord, IdempotencyStore } from './idempotency.store';

/** The embedded engine's store: one replica, entries dropped when they expire. */
export class MemoryIdempotencyStore extends IdempotencyStore {
  private readonly records = new Map<string, { record: IdempotencyRecord; expiresAt: number }>();

  claim(scope: string, key: string, fingerprint: string, pendingTtlSeconds: number): Promise<ClaimResult> {
    const existing = this.get(scope, key);
    if (existing) return Promise.resolve({ claimed: false, record: existing });
    const attempt = randomUUID();
    this.set(scope, key, { state: 'pending', fingerprint, attempt }, pendingTtlSeconds);
    return Promise.resolve({ claimed: true, attempt });
  }

  complete(
    scope: string,
    key: string,
    record: IdempotencyRecord & { state: 'done' },
    ttlSeconds: number,
  ): Promise<void> {
    this.set(scope, key, record, ttlSeconds);
    this.sweep();
    return Promise.resolve();
  }

  release(scope: string, key: string, attempt: string): Promise<void> {
    const record = this.get(scope, key);
    if (record?.state === 'pending' && record.attempt === attempt) this.records.delete(`${scope}\n${key}`);
    return Promise.resolve();
  }

  read(scope: string, key: string): Promise<IdempotencyRecord | undefined> {
    return Promise.resolve(this.get(scope, key));
  }

  private get(scope: string, key: string): IdempotencyRecord | undefined {
    const entry = this.records.get(`${scope}\n${key}`);
    if (!entry || entry.expiresAt <= Date.now()) return undefined;
    return entry.record;
  }

  private set(scope: string, key: string, record: IdempotencyRecord, ttlSeconds: number): void {
    this.records.set(`${scope}\n${key}`, { record, expiresAt: Date.now() + ttlSeconds * 1000 });
  }

  /** Drops expired entries; amortized over completions (a Map keeps insertion order: oldest first). */
  private sweep(): void {
    const now = Date.now();
    for (const [id, entry] of this.records) {
      if (entry.expiresAt > now) break;
      this.records.delete(id);
    }
  }
}
