import type { ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';

/** The embedded engine's rate-limit storage: the same fixed window and block as hit.lua, in this process. */
export class MemoryThrottlerStorage implements ThrottlerStorage {
  private readonly windows = new Map<string, { hits: number; endsAt: number; blockedUntil: number }>();

  increment(key: string, ttl: number, limit: number, blockDuration: number): Promise<ThrottlerStorageRecord> {
    const now = Date.now();
    let window = this.windows.get(key);
    if (window && window.blockedUntil > now) {
      const blockLeft = Math.ceil((window.blockedUntil - now) / 1000);
      return Promise.resolve({
        totalHits: limit + 1,
        timeToExpire: blockLeft,
        isBlocked: true,
        timeToBlockExpire: blockLeft,
      });
    }
    if (!window || window.endsAt <= now) {
      window = { hits: 0, endsAt: now + ttl, blockedUntil: 0 };
      this.windows.set(key, window);
    }
    window.hits += 1;
    const timeToExpire = Math.ceil((window.endsAt - now) / 1000);
    if (window.hits > limit) {
      window.blockedUntil = now + blockDuration;
      return Promise.resolve({
        totalHits: window.hits,
        timeToExpire,
        isBlocked: true,
        timeToBlockExpire: Math.ceil(blockDuration / 1000),
      });
    }
    return Promise.resolve({ totalHits: window.hits, timeToExpire, isBlocked: false, timeToBlockExpire: 0 });
  }
}
