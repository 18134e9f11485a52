import { Inject, Injectable } from '@nestjs/common';
import { Metrics } from '../metrics/metrics';
import { DeliveryEvents } from '../webhooks/delivery-events';
import {
  NewPushSubscription,
  PushSubscriptionStore,
  Registration,
  StoredPushSubscription,
} from './push-subscription.store';

/**
 * Registering and deleting users' subscriptions, reporting every subscription that leaves a user
 * (moved to another user, replaced past the cap, deleted) as `push_subscription.removed`.
 */
@Injectable()
export class PushSubscriptions {
  constructor(
    @Inject(PushSubscriptionStore) private readonly store: PushSubscriptionStore,
    @Inject(DeliveryEvents) private readonly events: DeliveryEvents,
    @Inject(Metrics) private readonly metrics: Metrics,
  ) {}

  async register(userId: string, subscription: NewPushSubscription): Promise<Registration> {
    const registration = await this.store.register(userId, subscription, Date.now());
    await Promise.all(
      registration.removed.map((removed) => {
        this.metrics.pushSubscriptionsRemoved.inc({ reason: removed.reason });
        return this.events.emit({ type: 'push_subscription.removed', data: removed });
      }),
    );
    return registration;
  }

  async remove(userId: string, id: string): Promise<boolean> {
    if (!(await this.store.remove(userId, id))) return false;
    this.metrics.pushSubscriptionsRemoved.inc({ reason: 'unsubscribed' });
    await this.events.emit({
      type: 'push_subscription.removed',
      data: { userId, subscriptionId: id, reason: 'unsubscribed' },
    });
    return true;
  }

  list(userId: string): Promise<StoredPushSubscription[]> {
    return this.store.list(userId);
  }
}
