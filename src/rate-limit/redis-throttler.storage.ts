import type { ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';
import type { EngineCommands } from '../engine/engine-commands';
import type { Result } from 'ioredis';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { engineCall } from '../common/errors';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    heraldRateHit(
      hitsKey: string,
      blockKey: string,
      windowMs: number,
      limit: number,
      blockMs: number,
    ): Result<[number, number, number, number], Context>;
  }
}

/** @nestjs/throttler's storage in Redis: one budget per key across every replica. Times in seconds, as the guard expects. */
export class RedisThrottlerStorage implements ThrottlerStorage {
  constructor(private readonly redis: EngineCommands) {
    redis.defineCommand('heraldRateHit', {
      numberOfKeys: 2,
      lua: readFileSync(join(__dirname, 'hit.lua'), 'utf8'),
    });
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
  ): Promise<ThrottlerStorageRecord> {
    const [totalHits, expiresInMs, blocked, blockExpiresInMs] = await engineCall(() =>
      this.redis.heraldRateHit(
        `herald:rate:{${key}}:hits`,
        `herald:rate:{${key}}:blocked`,
        ttl,
        limit,
        blockDuration,
      ),
    );
    return {
      totalHits,
      timeToExpire: Math.ceil(expiresInMs / 1000),
      isBlocked: blocked === 1,
      timeToBlockExpire: Math.ceil(blockExpiresInMs / 1000),
    };
  }
}
