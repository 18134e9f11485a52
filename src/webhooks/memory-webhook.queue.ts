import { bucketOf, ClaimedWebhook, ClaimResult, WEBHOOK_BUCKETS, WebhookQueue } from './webhook-queue';

interface Entry {
  body: string;
  dueAt: number;
  attempts: number;
}

/** The embedded engine's queue: one replica, so the buckets are only kept apart to match Redis. */
export class MemoryWebhookQueue extends WebhookQueue {
  private readonly buckets = Array.from({ length: WEBHOOK_BUCKETS }, () => new Map<string, Entry>());

  enqueue(id: string, body: string, dueAt: number): Promise<void> {
    this.bucket(id).set(id, { body, dueAt, attempts: 0 });
    return Promise.resolve();
  }

  claim(bucket: number, now: number, leaseMs: number, limit: number): Promise<ClaimResult> {
    const entries = this.buckets[bucket];
    const due = [...entries]
      .filter(([, entry]) => entry.dueAt <= now)
      .sort(([, a], [, b]) => a.dueAt - b.dueAt)
      .slice(0, limit);
    const claimed = due.map(([id, entry]): ClaimedWebhook => {
      entry.dueAt = now + leaseMs;
      entry.attempts += 1;
      return { id, body: entry.body, attempt: entry.attempts };
    });
    return Promise.resolve({ claimed, pending: entries.size });
  }

  complete(id: string, attempt: number): Promise<boolean> {
    const latest = this.latest(id, attempt);
    if (latest) this.bucket(id).delete(id);
    return Promise.resolve(latest !== undefined);
  }

  retry(id: string, attempt: number, dueAt: number): Promise<boolean> {
    const latest = this.latest(id, attempt);
    if (latest) latest.dueAt = dueAt;
    return Promise.resolve(latest !== undefined);
  }

  private bucket(id: string): Map<string, Entry> {
    return this.buckets[bucketOf(id)];
  }

  /** The event's entry if `attempt` is its latest claimed attempt. */
  private latest(id: string, attempt: number): Entry | undefined {
    const entry = this.bucket(id).get(id);
    return entry?.attempts === attempt ? entry : undefined;
  }
}
