/** What offline delivery reports (the contract's webhook types and their `data`). */
export type DeliveryEvent =
  | { type: 'notification.delivered'; data: { notificationId: string; userId: string } }
  | { type: 'notification.pushed'; data: { notificationId: string; userId: string; subscriptions: number } }
  | { type: 'notification.push_failed'; data: { notificationId: string; userId: string; reason: string } }
  | { type: 'push_subscription.removed'; data: { userId: string; subscriptionId: string; reason: string } };

/**
 * Where acknowledgements and Web Push report what happened to a notification. The webhooks module
 * provides it: with WEBHOOK_URL set, each event is kept in the engine and POSTed (signed, retried);
 * without it, events go nowhere.
 */
export abstract class DeliveryEvents {
  /** Resolves once the event is recorded (it will be sent even if this replica dies afterwards). */
  abstract emit(event: DeliveryEvent): Promise<void>;
}

/** No WEBHOOK_URL: nobody listens. */
export class DiscardedDeliveryEvents extends DeliveryEvents {
  async emit(): Promise<void> {}
}
