import type { Result } from 'ioredis';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { engineCall } from '../common/errors';
import type { EngineCommands } from '../engine/engine-commands';
import {
  MAX_SUBSCRIPTIONS_PER_USER,
  NewPushSubscription,
  PushSubscriptionStore,
  Registration,
  RemovedSubscription,
  StoredPushSubscription,
  subscriptionIdOf,
} from './push-subscription.store';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    heraldPushRegister(
      subs: string,
      recent: string,
      pushed: string,
      id: string,
      json: string,
      now: number,
      max: number,
    ): Result<[number, string], Context>;
    heraldPushRemove(subs: string, recent: string, pushed: string, id: string): Result<number, Context>;
    heraldPushMarkPushed(
      subs: string,
      recent: string,
      pushed: string,
      at: number,
      ...ids: string[]
    ): Result<number, Context>;
    heraldPushReleaseOwner(owner: string, userId: string): Result<number, Context>;
  }
}

/** A user's three structures, in the personal channel's hash slot (with its history and presence). */
const userKeys = (userId: string): [string, string, string] => [
  `herald:push:subs:{user:${userId}}`,
  `herald:push:recent:{user:${userId}}`,
  `herald:push:pushed:{user:${userId}}`,
];

/** Who holds an endpoint: its own slot, since the two users' slots differ. */
const ownerKey = (id: string): string => `herald:push:owner:{push:${id}}`;

interface StoredJson extends NewPushSubscription {
  createdAt: number;
}

const script = (name: string): string => readFileSync(join(__dirname, name), 'utf8');

/**
 * Subscriptions in Redis: per user a hash of subscriptions, a sorted set by last push (for the
 * replacement) and a hash of push times, all in `{user:<id>}`; per endpoint an owner key. Moving an
 * endpoint touches two users' slots and the owner's, so it is three steps, each atomic and each safe to
 * repeat: the owner is switched first (a browser re-registers on its next page load, which repairs a
 * move cut short by a crash).
 */
export class RedisPushSubscriptionStore extends PushSubscriptionStore {
  constructor(private readonly redis: EngineCommands) {
    super();
    redis.defineCommand('heraldPushRegister', { numberOfKeys: 3, lua: script('register-subscription.lua') });
    redis.defineCommand('heraldPushRemove', { numberOfKeys: 3, lua: script('remove-subscription.lua') });
    redis.defineCommand('heraldPushMarkPushed', { numberOfKeys: 3, lua: script('mark-pushed.lua') });
    redis.defineCommand('heraldPushReleaseOwner', { numberOfKeys: 1, lua: script('release-owner.lua') });
  }

  async register(userId: string, subscription: NewPushSubscription, now: number): Promise<Registration> {
    const id = subscriptionIdOf(subscription.endpoint);
    const removed: RemovedSubscription[] = [];
    const previousOwner = await engineCall(() => this.redis.set(ownerKey(id), userId, 'GET'));
    if (previousOwner !== null && previousOwner !== userId) {
      const taken = await engineCall(() => this.redis.heraldPushRemove(...userKeys(previousOwner), id));
      if (taken === 1) removed.push({ userId: previousOwner, subscriptionId: id, reason: 'moved' });
    }
    const json: StoredJson = { ...subscription, createdAt: now };
    const [created, replaced] = await engineCall(() =>
      this.redis.heraldPushRegister(
        ...userKeys(userId),
        id,
        JSON.stringify(json),
        now,
        MAX_SUBSCRIPTIONS_PER_USER,
      ),
    );
    if (replaced !== '') {
      await engineCall(() => this.redis.heraldPushReleaseOwner(ownerKey(replaced), userId));
      removed.push({ userId, subscriptionId: replaced, reason: 'replaced' });
    }
    return { id, created: created === 1, removed };
  }

  async remove(userId: string, id: string): Promise<boolean> {
    const removed = await engineCall(() => this.redis.heraldPushRemove(...userKeys(userId), id));
    if (removed === 0) return false;
    await engineCall(() => this.redis.heraldPushReleaseOwner(ownerKey(id), userId));
    return true;
  }

  async list(userId: string): Promise<StoredPushSubscription[]> {
    const [subs, , pushed] = userKeys(userId);
    const [entries, times] = await engineCall(() =>
      Promise.all([this.redis.hgetall(subs), this.redis.hgetall(pushed)]),
    );
    return Object.entries(entries)
      .map(([id, raw]): StoredPushSubscription => {
        const stored = JSON.parse(raw) as StoredJson;
        const at = times[id];
        return {
          id,
          userId,
          endpoint: stored.endpoint,
          keys: stored.keys,
          expirationTime: stored.expirationTime,
          createdAt: stored.createdAt,
          lastPushedAt: at === undefined ? null : Number(at),
        };
      })
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  async markPushed(userId: string, ids: readonly string[], at: number): Promise<void> {
    if (ids.length === 0) return;
    await engineCall(() => this.redis.heraldPushMarkPushed(...userKeys(userId), at, ...ids));
  }
}
