import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Logger as PinoLogger } from 'pino';
import { AppConfig } from '../config/app-config';
import { Logs } from '../logging/logging.module';
import { Metrics } from '../metrics/metrics';
import type { PushMessage } from '../protocol/wire';
import { DeliveryEvents } from '../webhooks/delivery-events';
import { AttemptResult, attemptTargets, expired, firstStep, Settlement, settle } from './push-attempt';
import { ClaimedPush, PushContent, PushLedger } from './push-ledger';
import { PushSubscriptionStore, RemovalReason, StoredPushSubscription } from './push-subscription.store';
import { WEB_PUSH_SENDER, WebPushSender } from './web-push.sender';

/** A claimed push is the claimer's this long: longer than the slowest attempt (timeouts 5 + 10 s). */
export const PUSH_LEASE_MS = 60_000;
/** Pushes one claim takes from one bucket; a full batch is followed by another claim at once. */
const CLAIM_BATCH = 50;
/** Without a push TTL from `expiresAt`, push services keep the message a day. */
const DEFAULT_TTL_SECONDS = 86_400;
/** At most one log line per this interval about a failing poll (the engine is down). */
const POLL_FAILURE_LOG_MS = 5000;

/**
 * Sends the due pushes, on every replica: each poll claims what is due in every queue bucket (in a
 * random order, at PUSH_POLL_INTERVAL_MS ± 50 %, so replicas spread out), then settles each claimed
 * push — dropped when acked, expired past `expiresAt`, else pushed to the user's subscriptions and
 * folded into its record ({@link settle}). Deletes subscriptions the push service says are gone and
 * reports what happened through {@link DeliveryEvents}. A replica that dies mid-push leaves it leased;
 * another takes it when the lease passes (at-least-once).
 */
@Injectable()
export class PushDispatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log: PinoLogger;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private polling: Promise<void> | undefined;
  private lastFailureLog = 0;

  constructor(
    @Inject(PushLedger) private readonly ledger: PushLedger,
    @Inject(PushSubscriptionStore) private readonly subscriptions: PushSubscriptionStore,
    @Inject(WEB_PUSH_SENDER) private readonly sender: WebPushSender | null,
    @Inject(DeliveryEvents) private readonly events: DeliveryEvents,
    @Inject(AppConfig) private readonly config: AppConfig,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(Logs) logs: Logs,
  ) {
    this.log = logs.for(PushDispatcher.name);
  }

  onApplicationBootstrap(): void {
    if (this.sender) this.next();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
    this.sender?.close();
  }

  private next(): void {
    if (this.stopped) return;
    const interval = this.config.pushPollIntervalMs;
    this.timer = setTimeout(
      () => {
        this.polling = this.poll().finally(() => {
          this.polling = undefined;
          this.next();
        });
      },
      Math.round(interval * (0.5 + Math.random())),
    );
  }

  /** One round over every bucket, in a random order. */
  private async poll(): Promise<void> {
    const buckets = Array.from({ length: this.ledger.buckets }, (_, i) => i).sort(() => Math.random() - 0.5);
    for (const bucket of buckets) {
      if (this.stopped) return;
      try {
        let claimed: ClaimedPush[];
        do {
          claimed = await this.ledger.claim(bucket, Date.now(), PUSH_LEASE_MS, CLAIM_BATCH);
          await Promise.all(claimed.map((push) => this.settleClaimed(push)));
        } while (claimed.length === CLAIM_BATCH && !this.stopped);
      } catch (error) {
        this.logPollFailure(error);
      }
    }
  }

  private logPollFailure(error: unknown): void {
    const now = Date.now();
    if (now - this.lastFailureLog < POLL_FAILURE_LOG_MS) return;
    this.lastFailureLog = now;
    this.log.warn(
      { err: (error as Error).message },
      'push queue poll failed; due pushes wait for the next poll',
    );
  }

  /** One claimed push, start to end; a failure leaves it leased, to be taken again. */
  private async settleClaimed(push: ClaimedPush): Promise<void> {
    try {
      await this.attempt(push);
    } catch (error) {
      this.logPollFailure(error);
    }
  }

  private async attempt(push: ClaimedPush): Promise<void> {
    const { notificationId, userId } = push;
    const loaded = await this.ledger.load(notificationId, userId);
    if (!loaded) return this.ledger.finish(push);
    const { content, record } = loaded;
    const now = Date.now();
    switch (firstStep(record, content, now)) {
      case 'drop':
        return this.ledger.finish(push);
      case 'expire':
        return this.apply(push, expired(record, content, userId));
      case 'send':
        break;
    }
    const all = await this.subscriptions.list(userId);
    const targets = attemptTargets(record, all);
    const results = await Promise.all(targets.map((subscription) => this.pushTo(subscription, content, now)));
    const accepted = results
      .filter((result) => result.outcome.kind === 'accepted')
      .map((r) => r.subscriptionId);
    const at = Date.now();
    await this.subscriptions.markPushed(userId, accepted, at);
    if (accepted.length > 0 && record.pushedAt === undefined)
      this.metrics.pushLatency.observe((at - Date.parse(content.createdAt)) / 1000);
    await this.apply(push, settle(record, content, userId, results, at));
  }

  /** Writes the settlement unless an ack won meanwhile; then retries, or finishes and reports. */
  private async apply(push: ClaimedPush, settlement: Settlement): Promise<void> {
    const updated = await this.ledger.update(push.notificationId, push.userId, settlement.record);
    if (updated && settlement.retryAt !== undefined) {
      await this.ledger.reschedule(push, settlement.retryAt);
      return;
    }
    await this.ledger.finish(push);
    if (!updated || !settlement.event) return;
    this.metrics.pushesSettled.inc({ state: settlement.record.state });
    await this.events.emit(settlement.event);
    this.log.info(
      { notificationId: push.notificationId, userId: push.userId, state: settlement.record.state },
      'push settled',
    );
  }

  private async pushTo(
    subscription: StoredPushSubscription,
    content: PushContent,
    now: number,
  ): Promise<AttemptResult> {
    const sender = this.sender as WebPushSender;
    const outcome =
      subscription.expirationTime !== null && subscription.expirationTime <= now
        ? { kind: 'gone' as const, status: 410 }
        : await sender.send(subscription, messageOf(content), {
            ttlSeconds: ttlOf(content, now),
            urgency: content.urgency,
            ...(content.collapseKey === undefined ? {} : { topic: content.collapseKey }),
          });
    this.metrics.pushRequests.inc({ outcome: outcome.kind });
    if (outcome.kind === 'gone') await this.removeGone(subscription, 'gone');
    if (outcome.kind !== 'accepted')
      this.log.info(
        { subscriptionId: subscription.id, userId: subscription.userId, outcome },
        'push not accepted',
      );
    return { subscriptionId: subscription.id, outcome };
  }

  private async removeGone(subscription: StoredPushSubscription, reason: RemovalReason): Promise<void> {
    if (!(await this.subscriptions.remove(subscription.userId, subscription.id))) return;
    this.metrics.pushSubscriptionsRemoved.inc({ reason });
    await this.events.emit({
      type: 'push_subscription.removed',
      data: { userId: subscription.userId, subscriptionId: subscription.id, reason },
    });
  }
}

/** What the service worker receives (the payload may be left out by the sender, to fit). */
export function messageOf(content: PushContent): PushMessage {
  return {
    id: content.id,
    type: content.type,
    title: content.title,
    body: content.body,
    url: content.url,
    icon: content.icon,
    createdAt: content.createdAt,
    payload: content.payload,
  };
}

/** The push `TTL`: the seconds left until `expiresAt` (at least 1), else a day. */
export function ttlOf(content: PushContent, now: number): number {
  if (content.expiresAt === undefined) return DEFAULT_TTL_SECONDS;
  return Math.max(1, Math.floor((Date.parse(content.expiresAt) - now) / 1000));
}
