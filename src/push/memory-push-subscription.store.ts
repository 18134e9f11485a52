import {
  MAX_SUBSCRIPTIONS_PER_USER,
  NewPushSubscription,
  PushSubscriptionStore,
  Registration,
  RemovedSubscription,
  StoredPushSubscription,
  subscriptionIdOf,
} from './push-subscription.store';

/** The embedded engine's subscriptions: one replica, so plain maps. */
export class MemoryPushSubscriptionStore extends PushSubscriptionStore {
  /** userId → id → subscription */
  private readonly users = new Map<string, Map<string, StoredPushSubscription>>();
  /** id → the user holding that endpoint */
  private readonly owners = new Map<string, string>();

  register(userId: string, subscription: NewPushSubscription, now: number): Promise<Registration> {
    const id = subscriptionIdOf(subscription.endpoint);
    const removed: RemovedSubscription[] = [];
    const previousOwner = this.owners.get(id);
    this.owners.set(id, userId);
    if (previousOwner !== undefined && previousOwner !== userId && this.take(previousOwner, id))
      removed.push({ userId: previousOwner, subscriptionId: id, reason: 'moved' });
    const own = this.users.get(userId) ?? new Map<string, StoredPushSubscription>();
    this.users.set(userId, own);
    const existing = own.get(id);
    if (existing) {
      own.set(id, { ...existing, keys: subscription.keys, expirationTime: subscription.expirationTime });
      return Promise.resolve({ id, created: false, removed });
    }
    if (own.size >= MAX_SUBSCRIPTIONS_PER_USER) {
      const stalest = [...own.values()].reduce((a, b) => (activity(b) < activity(a) ? b : a));
      this.take(userId, stalest.id);
      if (this.owners.get(stalest.id) === userId) this.owners.delete(stalest.id);
      removed.push({ userId, subscriptionId: stalest.id, reason: 'replaced' });
    }
    own.set(id, { ...subscription, id, userId, createdAt: now, lastPushedAt: null });
    return Promise.resolve({ id, created: true, removed });
  }

  remove(userId: string, id: string): Promise<boolean> {
    const removed = this.take(userId, id);
    if (removed && this.owners.get(id) === userId) this.owners.delete(id);
    return Promise.resolve(removed);
  }

  list(userId: string): Promise<StoredPushSubscription[]> {
    const own = [...(this.users.get(userId)?.values() ?? [])];
    return Promise.resolve(own.sort((a, b) => a.createdAt - b.createdAt).map((entry) => ({ ...entry })));
  }

  markPushed(userId: string, ids: readonly string[], at: number): Promise<void> {
    const own = this.users.get(userId);
    for (const id of ids) {
      const entry = own?.get(id);
      if (entry) entry.lastPushedAt = at;
    }
    return Promise.resolve();
  }

  private take(userId: string, id: string): boolean {
    const own = this.users.get(userId);
    const removed = own?.delete(id) ?? false;
    if (own?.size === 0) this.users.delete(userId);
    return removed;
  }
}

/** When it last received a push; one never pushed counts from its registration. */
const activity = (entry: StoredPushSubscription): number => entry.lastPushedAt ?? entry.createdAt;
