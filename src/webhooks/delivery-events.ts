import type { WebhookEventData, WebhookEventType } from '../protocol/wire';

/** What offline delivery reports (the contract's webhook types and their `data`, from the wire shapes). */
export type DeliveryEvent = {
  [T in WebhookEventType]: { type: T; data: WebhookEventData[T] };
}[WebhookEventType];

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
