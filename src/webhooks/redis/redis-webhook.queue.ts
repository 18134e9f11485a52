import type { Result } from 'ioredis';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { engineCall } from '../../common/errors';
import type { EngineCommands } from '../../engine/engine-commands';
import { bucketOf, ClaimedWebhook, ClaimResult, WebhookQueue } from '../webhook-queue';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    heraldWebhookClaim(
      due: string,
      events: string,
      attempts: string,
      now: number,
      leaseEnd: number,
      limit: number,
    ): Result<(string | number)[], Context>;
    heraldWebhookSettle(
      due: string,
      events: string,
      attempts: string,
      id: string,
      attempt: number,
      dueAt: number | '',
    ): Result<number, Context>;
  }
}

/** A bucket's three keys, in one hash slot (`{webhooks:<n>}`), spread over the cluster by `n`. */
function bucketKeys(bucket: number): [due: string, events: string, attempts: string] {
  const tag = `herald:{webhooks:${bucket}}`;
  return [`${tag}:due`, `${tag}:events`, `${tag}:attempts`];
}

/** Pending webhook events in Redis, shared by every replica (claim.lua, settle.lua). */
export class RedisWebhookQueue extends WebhookQueue {
  constructor(private readonly redis: EngineCommands) {
    super();
    redis.defineCommand('heraldWebhookClaim', {
      numberOfKeys: 3,
      lua: readFileSync(join(__dirname, 'claim.lua'), 'utf8'),
    });
    redis.defineCommand('heraldWebhookSettle', {
      numberOfKeys: 3,
      lua: readFileSync(join(__dirname, 'settle.lua'), 'utf8'),
    });
  }

  async enqueue(id: string, body: string, dueAt: number): Promise<void> {
    const [due, events] = bucketKeys(bucketOf(id));
    // One transaction (one slot): the index never names an event whose body is not stored.
    await engineCall(async () => {
      const results = await this.redis.multi().hset(events, id, body).zadd(due, dueAt, id).exec();
      const failure =
        results === null ? new Error('transaction aborted') : results.find(([error]) => error)?.[0];
      if (failure) throw failure;
    });
  }

  async claim(bucket: number, now: number, leaseMs: number, limit: number): Promise<ClaimResult> {
    const [pending, ...flat] = await engineCall(() =>
      this.redis.heraldWebhookClaim(...bucketKeys(bucket), now, now + leaseMs, limit),
    );
    const claimed: ClaimedWebhook[] = [];
    for (let i = 0; i < flat.length; i += 3) {
      claimed.push({ id: String(flat[i]), attempt: Number(flat[i + 1]), body: String(flat[i + 2]) });
    }
    return { claimed, pending: Number(pending) };
  }

  complete(id: string, attempt: number): Promise<boolean> {
    return this.settle(id, attempt, '');
  }

  retry(id: string, attempt: number, dueAt: number): Promise<boolean> {
    return this.settle(id, attempt, dueAt);
  }

  private async settle(id: string, attempt: number, dueAt: number | ''): Promise<boolean> {
    const settled = await engineCall(() =>
      this.redis.heraldWebhookSettle(...bucketKeys(bucketOf(id)), id, attempt, dueAt),
    );
    return settled === 1;
  }
}
