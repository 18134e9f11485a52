import type { Result } from 'ioredis';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { engineCall } from '../common/errors';
import type { EngineCommands } from '../engine/engine-commands';
import type { DeliveryState } from '../protocol/wire';
import {
  bucketOf,
  ClaimedPush,
  DeliveryRecord,
  parseQueueMember,
  PushContent,
  PushLedger,
  queueMember,
} from './push-ledger';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    heraldPushRecord(
      key: string,
      content: string,
      ttl: number,
      record: string,
      ...users: string[]
    ): Result<string[], Context>;
    heraldPushClaim(bucket: string, now: number, lease: number, limit: number): Result<string[], Context>;
    heraldPushLease(
      bucket: string,
      member: string,
      lease: number,
      ...dueAt: number[]
    ): Result<number, Context>;
    heraldPushUpdate(key: string, field: string, record: string): Result<number, Context>;
    heraldPushAcknowledge(key: string, field: string, now: number): Result<number, Context>;
  }
}

/** Queue buckets: enough to spread a busy queue over a cluster's masters, few enough to poll all. */
export const PUSH_QUEUE_BUCKETS = 16;

/** A notification's content and records: its own slot (its users' slots differ from one another). */
const notificationKey = (id: string): string => `herald:push:notification:{notification:${id}}`;
const bucketKey = (bucket: number): string => `herald:pushq:{${bucket}}`;
const userField = (userId: string): string => `user:${userId}`;

const script = (name: string): string => readFileSync(join(__dirname, name), 'utf8');

/**
 * The ledger in Redis: per notification one hash (content + a record per user) in
 * `{notification:<id>}`, expiring after IDEMPOTENCY_TTL_SECONDS; the queue in
 * {@link PUSH_QUEUE_BUCKETS} sorted sets `herald:pushq:{<n>}`, a push's bucket fixed by its member.
 * Every call touches one key (one slot).
 */
export class RedisPushLedger extends PushLedger {
  readonly buckets = PUSH_QUEUE_BUCKETS;

  constructor(private readonly redis: EngineCommands) {
    super();
    redis.defineCommand('heraldPushRecord', { numberOfKeys: 1, lua: script('record-push.lua') });
    redis.defineCommand('heraldPushClaim', { numberOfKeys: 1, lua: script('claim-pushes.lua') });
    redis.defineCommand('heraldPushLease', { numberOfKeys: 1, lua: script('lease-push.lua') });
    redis.defineCommand('heraldPushUpdate', { numberOfKeys: 1, lua: script('update-delivery.lua') });
    redis.defineCommand('heraldPushAcknowledge', { numberOfKeys: 1, lua: script('acknowledge.lua') });
  }

  async record(
    content: PushContent,
    userIds: readonly string[],
    state: Extract<DeliveryState, 'pending' | 'no_subscriptions'>,
    ttlSeconds: number,
  ): Promise<string[]> {
    const record: DeliveryRecord = { state };
    return engineCall(() =>
      this.redis.heraldPushRecord(
        notificationKey(content.id),
        JSON.stringify(content),
        ttlSeconds,
        JSON.stringify(record),
        ...userIds,
      ),
    );
  }

  async schedule(notificationId: string, jobs: readonly { userId: string; dueAt: number }[]): Promise<void> {
    const byBucket = new Map<number, (string | number)[]>();
    for (const { userId, dueAt } of jobs) {
      const member = queueMember(notificationId, userId);
      const bucket = bucketOf(member, this.buckets);
      byBucket.set(bucket, [...(byBucket.get(bucket) ?? []), dueAt, member]);
    }
    await engineCall(() =>
      Promise.all(
        [...byBucket].map(([bucket, entries]) => this.redis.zadd(bucketKey(bucket), 'NX', ...entries)),
      ),
    );
  }

  async claim(bucket: number, now: number, leaseMs: number, limit: number): Promise<ClaimedPush[]> {
    const lease = now + leaseMs;
    const members = await engineCall(() => this.redis.heraldPushClaim(bucketKey(bucket), now, lease, limit));
    return members.map((member) => ({ ...parseQueueMember(member), lease }));
  }

  async load(
    notificationId: string,
    userId: string,
  ): Promise<{ content: PushContent; record: DeliveryRecord } | undefined> {
    const [content, record] = await engineCall(() =>
      this.redis.hmget(notificationKey(notificationId), 'content', userField(userId)),
    );
    if (content === null || record === null) return undefined;
    return { content: JSON.parse(content) as PushContent, record: JSON.parse(record) as DeliveryRecord };
  }

  async update(notificationId: string, userId: string, record: DeliveryRecord): Promise<boolean> {
    const updated = await engineCall(() =>
      this.redis.heraldPushUpdate(notificationKey(notificationId), userField(userId), JSON.stringify(record)),
    );
    return updated === 1;
  }

  async reschedule(push: ClaimedPush, dueAt: number): Promise<boolean> {
    const member = queueMember(push.notificationId, push.userId);
    const done = await engineCall(() =>
      this.redis.heraldPushLease(bucketKey(bucketOf(member, this.buckets)), member, push.lease, dueAt),
    );
    return done === 1;
  }

  async finish(push: ClaimedPush): Promise<void> {
    const member = queueMember(push.notificationId, push.userId);
    await engineCall(() =>
      this.redis.heraldPushLease(bucketKey(bucketOf(member, this.buckets)), member, push.lease),
    );
  }

  async acknowledge(userId: string, ids: readonly string[], now: number): Promise<string[]> {
    const unique = [...new Set(ids)];
    const results = await engineCall(() =>
      Promise.all(
        unique.map((id) => this.redis.heraldPushAcknowledge(notificationKey(id), userField(userId), now)),
      ),
    );
    const delivered = unique.filter((_, i) => results[i] === 1);
    // A delivered user's push is dropped when claimed anyway; removing it now spares the claim.
    await engineCall(() =>
      Promise.all(
        delivered.map((id) => {
          const member = queueMember(id, userId);
          return this.redis.zrem(bucketKey(bucketOf(member, this.buckets)), member);
        }),
      ),
    );
    return delivered;
  }

  async status(notificationId: string): Promise<{ userId: string; record: DeliveryRecord }[] | undefined> {
    const fields = await engineCall(() => this.redis.hgetall(notificationKey(notificationId)));
    if (fields.content === undefined) return undefined;
    return Object.entries(fields)
      .filter(([field]) => field.startsWith('user:'))
      .map(([field, raw]) => ({ userId: field.slice(5), record: JSON.parse(raw) as DeliveryRecord }));
  }

  async isQueued(notificationId: string, userId: string): Promise<boolean> {
    const member = queueMember(notificationId, userId);
    const score = await engineCall(() =>
      this.redis.zscore(bucketKey(bucketOf(member, this.buckets)), member),
    );
    return score !== null;
  }
}
