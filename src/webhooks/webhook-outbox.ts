import { randomUUID } from 'node:crypto';
import type { WebhookEvent } from '../protocol/wire';
import { DeliveryEvent, DeliveryEvents } from './delivery-events';
import type { WebhookDispatcher } from './webhook-dispatcher';
import type { WebhookQueue } from './webhook-queue';

/**
 * DeliveryEvents with WEBHOOK_URL set: an event gets its `id` and `createdAt` here, once, and is
 * recorded in the engine as the exact body every attempt will POST; then this replica's dispatcher
 * is woken to send it at once. A failed record (the engine is unavailable) rejects, with an
 * EngineUnavailableError.
 */
export class WebhookOutbox extends DeliveryEvents {
  constructor(
    private readonly queue: WebhookQueue,
    private readonly dispatcher: Pick<WebhookDispatcher, 'wake'>,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  async emit(event: DeliveryEvent): Promise<void> {
    const now = this.now();
    const body = {
      id: randomUUID(),
      type: event.type,
      createdAt: new Date(now).toISOString(),
      data: event.data,
    } as WebhookEvent;
    await this.queue.enqueue(body.id, JSON.stringify(body), now);
    this.dispatcher.wake();
  }
}
