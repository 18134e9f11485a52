import type { EngineCommands } from '../engine/engine-commands';
import type { Result } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { engineCall } from '../common/errors';
import { ClaimResult, IdempotencyRecord, IdempotencyStore } from './idempotency.store';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    heraldIdempotencyClaim(key: string, record: string, ttlSeconds: number): Result<string | null, Context>;
    heraldIdempotencyRelease(key: string, attempt: string): Result<number, Context>;
  }
}

/** One key per (API key name, Idempotency-Key), in its own hash slot. */
const recordKey = (scope: string, key: string): string => `herald:idem:{${scope}:${key}}`;

/** Idempotency records in Redis, shared by every replica. */
export class RedisIdempotencyStore extends IdempotencyStore {
  constructor(private readonly redis: EngineCommands) {
    super();
    redis.defineCommand('heraldIdempotencyClaim', {
      numberOfKeys: 1,
      lua: readFileSync(join(__dirname, 'claim.lua'), 'utf8'),
    });
    redis.defineCommand('heraldIdempotencyRelease', {
      numberOfKeys: 1,
      lua: readFileSync(join(__dirname, 'release.lua'), 'utf8'),
    });
  }

  async claim(
    scope: string,
    key: string,
    fingerprint: string,
    pendingTtlSeconds: number,
  ): Promise<ClaimResult> {
    const attempt = randomUUID();
    const pending: IdempotencyRecord = { state: 'pending', fingerprint, attempt };
    const existing = await engineCall(() =>
      this.redis.heraldIdempotencyClaim(recordKey(scope, key), JSON.stringify(pending), pendingTtlSeconds),
    );
    return existing === null
      ? { claimed: true, attempt }
      : { claimed: false, record: JSON.parse(existing) as IdempotencyRecord };
  }

  async complete(
    scope: string,
    key: string,
    record: IdempotencyRecord & { state: 'done' },
    ttlSeconds: number,
  ): Promise<void> {
    await engineCall(() => this.redis.set(recordKey(scope, key), JSON.stringify(record), 'EX', ttlSeconds));
  }

  async release(scope: string, key: string, attempt: string): Promise<void> {
    await engineCall(() => this.redis.heraldIdempotencyRelease(recordKey(scope, key), attempt));
  }

  async read(scope: string, key: string): Promise<IdempotencyRecord | undefined> {
    const value = await engineCall(() => this.redis.get(recordKey(scope, key)));
    return value === null ? undefined : (JSON.parse(value) as IdempotencyRecord);
  }
}
