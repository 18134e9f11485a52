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

interface Entry {
  content: PushContent;
  users: Map<string, DeliveryRecord>;
  /** ms since the epoch */
  expiresAt: number;
}

/** The embedded engine's ledger: one replica, so maps; a queue of one bucket. */
export class MemoryPushLedger extends PushLedger {
  readonly buckets = 1;
  private readonly entries = new Map<string, Entry>();
  /** queue member → due time, or lease while claimed (ms) */
  private readonly queue = new Map<string, number>();

  record(
    content: PushContent,
    userIds: readonly string[],
    state: Extract<DeliveryState, 'pending' | 'no_subscriptions'>,
    ttlSeconds: number,
  ): Promise<string[]> {
    const entry: Entry = this.live(content.id) ?? {
      content,
      users: new Map<string, DeliveryRecord>(),
      expiresAt: 0,
    };
    entry.expiresAt = Date.now() + ttlSeconds * 1000;
    this.entries.set(content.id, entry);
    const pending: string[] = [];
    for (const userId of userIds) {
      const record: DeliveryRecord = entry.users.get(userId) ?? { state };
      entry.users.set(userId, record);
      if (record.state === 'pending') pending.push(userId);
    }
    return Promise.resolve(pending);
  }

  schedule(notificationId: string, jobs: readonly { userId: string; dueAt: number }[]): Promise<void> {
    for (const { userId, dueAt } of jobs) {
      const member = queueMember(notificationId, userId);
      if (!this.queue.has(member)) this.queue.set(member, dueAt);
    }
    return Promise.resolve();
  }

  claim(bucket: number, now: number, leaseMs: number, limit: number): Promise<ClaimedPush[]> {
    const claimed: ClaimedPush[] = [];
    const due = [...this.queue].filter(([member, at]) => at <= now && bucketOf(member, 1) === bucket);
    for (const [member] of due.sort((a, b) => a[1] - b[1]).slice(0, limit)) {
      this.queue.set(member, now + leaseMs);
      claimed.push({ ...parseQueueMember(member), lease: now + leaseMs });
    }
    return Promise.resolve(claimed);
  }

  load(
    notificationId: string,
    userId: string,
  ): Promise<{ content: PushContent; record: DeliveryRecord } | undefined> {
    const entry = this.live(notificationId);
    const record = entry?.users.get(userId);
    return Promise.resolve(entry && record ? { content: entry.content, record: { ...record } } : undefined);
  }

  update(notificationId: string, userId: string, record: DeliveryRecord): Promise<boolean> {
    const users = this.live(notificationId)?.users;
    const current = users?.get(userId);
    if (!users || !current || current.state === 'delivered') return Promise.resolve(false);
    users.set(userId, { ...record });
    return Promise.resolve(true);
  }

  reschedule(push: ClaimedPush, dueAt: number): Promise<boolean> {
    const member = queueMember(push.notificationId, push.userId);
    if (this.queue.get(member) !== push.lease) return Promise.resolve(false);
    this.queue.set(member, dueAt);
    return Promise.resolve(true);
  }

  finish(push: ClaimedPush): Promise<void> {
    const member = queueMember(push.notificationId, push.userId);
    if (this.queue.get(member) === push.lease) this.queue.delete(member);
    return Promise.resolve();
  }

  acknowledge(userId: string, ids: readonly string[], now: number): Promise<string[]> {
    const delivered: string[] = [];
    for (const id of new Set(ids)) {
      const users = this.live(id)?.users;
      const record = users?.get(userId);
      if (!users || !record || record.state === 'delivered') continue;
      users.set(userId, { state: 'delivered', deliveredAt: now, ...pushedAtOf(record) });
      this.queue.delete(queueMember(id, userId));
      delivered.push(id);
    }
    return Promise.resolve(delivered);
  }

  status(notificationId: string): Promise<{ userId: string; record: DeliveryRecord }[] | undefined> {
    const entry = this.live(notificationId);
    return Promise.resolve(
      entry && [...entry.users].map(([userId, record]) => ({ userId, record: { ...record } })),
    );
  }

  isQueued(notificationId: string, userId: string): Promise<boolean> {
    return Promise.resolve(this.queue.has(queueMember(notificationId, userId)));
  }

  private live(notificationId: string): Entry | undefined {
    const entry = this.entries.get(notificationId);
    if (entry && entry.expiresAt <= Date.now()) {
      this.entries.delete(notificationId);
      return undefined;
    }
    return entry;
  }
}

const pushedAtOf = (record: DeliveryRecord): Pick<DeliveryRecord, 'pushedAt'> =>
  record.pushedAt === undefined ? {} : { pushedAt: record.pushedAt };
