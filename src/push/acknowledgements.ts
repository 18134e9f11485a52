import { Inject, Injectable } from '@nestjs/common';
import { Metrics } from '../metrics/metrics';
import { DeliveryEvents } from '../webhooks/delivery-events';
import { PushLedger } from './push-ledger';

/**
 * Acknowledgements, from any connection of a user (the WebSocket `ack` frame, `POST /v1/acks`): the
 * first ack of a notification published with `push` marks it delivered for that user — its push, if
 * not sent yet, is not sent — and reports `notification.delivered` once. Ids of other notifications
 * (without `push`, of other users, unknown) are ignored.
 */
@Injectable()
export class Acknowledgements {
  constructor(
    @Inject(PushLedger) private readonly ledger: PushLedger,
    @Inject(DeliveryEvents) private readonly events: DeliveryEvents,
    @Inject(Metrics) private readonly metrics: Metrics,
  ) {}

  async acknowledge(userId: string, ids: readonly string[]): Promise<void> {
    const delivered = await this.ledger.acknowledge(userId, ids, Date.now());
    this.metrics.acknowledged.inc(delivered.length);
    await Promise.all(
      delivered.map((notificationId) =>
        this.events.emit({ type: 'notification.delivered', data: { notificationId, userId } }),
      ),
    );
  }
}
