import { EngineCommands, isCluster } from '../engine/engine-commands';
import type { Result } from 'ioredis';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { engineCall } from '../common/errors';
import { PresenceEntry, PresenceRegistry } from './presence.registry';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    heraldPresenceAdmit(
      key: string,
      now: number,
      expiry: number,
      connectionId: string,
      max: number,
    ): Result<number, Context>;
  }
}

/** In the personal channel's hash slot, next to its history. */
const presenceKey = (userId: string): string => `herald:presence:{user:${userId}}`;

/** Presence in Redis: one sorted set per user, connection id → expiry. */
export class RedisPresenceRegistry extends PresenceRegistry {
  constructor(private readonly redis: EngineCommands) {
    super();
    redis.defineCommand('heraldPresenceAdmit', {
      numberOfKeys: 1,
      lua: readFileSync(join(__dirname, 'admit.lua'), 'utf8'),
    });
  }

  async admit({ userId, connectionId }: PresenceEntry, max: number, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const admitted = await engineCall(() =>
      this.redis.heraldPresenceAdmit(presenceKey(userId), now, now + ttlMs, connectionId, max),
    );
    return admitted === 1;
  }

  async refresh(entries: readonly PresenceEntry[], ttlMs: number): Promise<void> {
    if (entries.length === 0) return;
    const expiry = Date.now() + ttlMs;
    // Not XX: entries that Redis lost (a restart without its data) come back with the next beat.
    if (isCluster(this.redis)) {
      // One call per key, auto-pipelined per node (a pipeline would have to stay in one slot).
      await engineCall(() =>
        Promise.all(
          entries.flatMap(({ userId, connectionId }) => [
            this.redis.zadd(presenceKey(userId), expiry, connectionId),
            this.redis.pexpire(presenceKey(userId), 2 * ttlMs),
          ]),
        ),
      );
      return;
    }
    // One Redis: every session's refresh in one write.
    const pipeline = this.redis.pipeline();
    for (const { userId, connectionId } of entries) {
      pipeline.zadd(presenceKey(userId), expiry, connectionId).pexpire(presenceKey(userId), 2 * ttlMs);
    }
    await engineCall(async () => {
      for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
    });
  }

  async remove({ userId, connectionId }: PresenceEntry): Promise<void> {
    await engineCall(() => this.redis.zrem(presenceKey(userId), connectionId));
  }

  async count(userId: string): Promise<number> {
    return engineCall(() => this.redis.zcount(presenceKey(userId), Date.now(), '+inf'));
  }
}
