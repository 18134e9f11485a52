import { Global, Inject, Logger, Module, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { Metrics } from '../metrics/metrics';
import { DeliveryEvents, DiscardedDeliveryEvents } from './delivery-events';
import { WebhookDispatcher } from './webhook-dispatcher';
import { WebhookOutbox } from './webhook-outbox';
import { WebhookQueue } from './webhook-queue';
import { WebhookSender } from './webhook-sender';

/** Attempts in flight at once per replica (also the connections kept open to WEBHOOK_URL). */
const CONCURRENCY = 16;
const POLL_INTERVAL_MS = 1000;
/** A claim outlives one attempt (WEBHOOK_TIMEOUT_MS) by this much before another replica may take it. */
const LEASE_MARGIN_MS = 10_000;
const LOG_INTERVAL_MS = 5000;

interface WebhookDelivery {
  events: DeliveryEvents;
  /** Unset without WEBHOOK_URL. */
  dispatcher?: WebhookDispatcher;
}

function createWebhookDelivery(config: AppConfig, queue: WebhookQueue, metrics: Metrics): WebhookDelivery {
  const webhook = config.webhook;
  if (!webhook) return { events: new DiscardedDeliveryEvents() };
  const sender = new WebhookSender({ ...webhook, maxSockets: CONCURRENCY });
  const dispatcher = new WebhookDispatcher(queue, sender, metrics, new Logger('Webhooks'), {
    concurrency: CONCURRENCY,
    pollIntervalMs: POLL_INTERVAL_MS,
    leaseMs: webhook.timeoutMs + LEASE_MARGIN_MS,
    retryScheduleMs: webhook.retryScheduleMs,
    logIntervalMs: LOG_INTERVAL_MS,
  });
  return { events: new WebhookOutbox(queue, dispatcher), dispatcher };
}

const WEBHOOK_DELIVERY = Symbol('WebhookDelivery');

/**
 * Delivery events (acks, Web Push) → signed, retried webhooks to WEBHOOK_URL, kept in the engine's
 * {@link WebhookQueue} until delivered; without WEBHOOK_URL they are discarded. Every replica sends.
 */
@Global()
@Module({
  providers: [
    {
      provide: WEBHOOK_DELIVERY,
      inject: [AppConfig, WebhookQueue, Metrics],
      useFactory: createWebhookDelivery,
    },
    {
      provide: DeliveryEvents,
      inject: [WEBHOOK_DELIVERY],
      useFactory: (delivery: WebhookDelivery) => delivery.events,
    },
  ],
  exports: [DeliveryEvents],
})
export class WebhooksModule implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(@Inject(WEBHOOK_DELIVERY) private readonly delivery: WebhookDelivery) {}

  onApplicationBootstrap(): void {
    this.delivery.dispatcher?.start();
  }

  /** Before the engine closes (its hook is onApplicationShutdown): in-flight events are handed back. */
  async onModuleDestroy(): Promise<void> {
    await this.delivery.dispatcher?.stop();
  }
}
