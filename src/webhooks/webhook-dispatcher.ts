import type { Logger } from '@nestjs/common';
import type { Metrics } from '../metrics/metrics';
import type { AttemptOutcome, WebhookSender } from './webhook-sender';
import { ClaimedWebhook, WEBHOOK_BUCKETS, WebhookQueue } from './webhook-queue';

export interface WebhookDispatcherOptions {
  /** Attempts in flight at once on this replica. */
  concurrency: number;
  /** Every bucket is polled about this often (each pause drawn from 0.5–1.5 × it, so replicas spread). */
  pollIntervalMs: number;
  /** How long a claim holds an event: longer than one attempt, so that only a dead claimer's lapses. */
  leaseMs: number;
  /** The wait before retry n is entry n - 1; after attempt `length + 1` fails, the event is dropped. */
  retryScheduleMs: readonly number[];
  /** At most one warning about failing attempts or engine calls per this many ms. */
  logIntervalMs: number;
}

/** The wait after failed attempt `attempt` (1, 2, …), or undefined when it was the last one. */
export function retryDelayMs(schedule: readonly number[], attempt: number): number | undefined {
  return schedule[attempt - 1];
}

/**
 * Sends what the {@link WebhookQueue} holds, from every replica at once: each polls every bucket
 * (with jitter, and at once on `wake()` after a local emit), claims as many due events as it has free
 * sending slots, POSTs each, and settles it — removed when delivered, due again after the schedule's
 * next wait when not, removed with a warning and a metric after the last attempt. A replica that dies
 * mid-attempt leaves the event leased; another replica claims it when the lease ends (at-least-once).
 * On `stop()`, attempts in flight are cut and their events handed back, due at once.
 */
export class WebhookDispatcher {
  private readonly pendingByBucket = new Array<number>(WEBHOOK_BUCKETS).fill(0);
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private pollAgain = false;
  /** A claim came back full: more may be due than this replica took. */
  private backlog = false;
  private stopped = false;
  private unreportedFailures = 0;
  private lastReportAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly queue: WebhookQueue,
    private readonly sender: Pick<WebhookSender, 'send' | 'close'>,
    private readonly metrics: Pick<Metrics, 'webhookAttempts' | 'webhooksDropped' | 'webhooksPending'>,
    private readonly logger: Pick<Logger, 'warn'>,
    private readonly options: WebhookDispatcherOptions,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.schedulePoll();
  }

  /** Polls now (coalesced with a poll already running): a local emit need not wait for the next poll. */
  wake(): void {
    if (this.stopped) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    clearTimeout(this.timer);
    this.polling = this.poll().finally(() => {
      this.polling = undefined;
      if (this.pollAgain) {
        this.pollAgain = false;
        this.wake();
      } else {
        this.schedulePoll();
      }
    });
  }

  /** Stops polling, cuts the attempts in flight and waits until their events are handed back. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
    this.sender.close();
    await Promise.all(this.inFlight);
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    const pause = this.options.pollIntervalMs * (0.5 + Math.random());
    this.timer = setTimeout(() => this.wake(), pause);
  }

  private async poll(): Promise<void> {
    this.backlog = false;
    const first = Math.floor(Math.random() * WEBHOOK_BUCKETS);
    for (let n = 0; n < WEBHOOK_BUCKETS && !this.stopped; n++) {
      const free = this.options.concurrency - this.inFlight.size;
      if (free <= 0) {
        this.backlog = true;
        return;
      }
      const bucket = (first + n) % WEBHOOK_BUCKETS;
      try {
        const { claimed, pending } = await this.queue.claim(bucket, this.now(), this.options.leaseMs, free);
        this.pendingByBucket[bucket] = pending;
        this.metrics.webhooksPending.set(this.pendingByBucket.reduce((sum, count) => sum + count, 0));
        if (claimed.length === free) this.backlog = true;
        for (const event of claimed) this.track(this.attempt(event));
      } catch (error) {
        this.reportFailure(`claiming webhook events failed: ${(error as Error).message}`);
        return;
      }
    }
  }

  private track(attempt: Promise<void>): void {
    this.inFlight.add(attempt);
    void attempt.finally(() => {
      this.inFlight.delete(attempt);
      if (this.backlog) this.wake();
    });
  }

  private async attempt(event: ClaimedWebhook): Promise<void> {
    if (this.stopped) {
      await this.handBack(event);
      return;
    }
    const result = await this.sender.send(event.body, event.attempt);
    this.metrics.webhookAttempts.inc({ outcome: result.outcome });
    try {
      if (result.outcome === 'delivered') {
        await this.queue.complete(event.id, event.attempt);
        return;
      }
      if (this.stopped) {
        await this.handBack(event);
        return;
      }
      this.reportFailure(`webhook attempts failing (last: ${describeOutcome(result)})`);
      const delay = retryDelayMs(this.options.retryScheduleMs, event.attempt);
      if (delay !== undefined) {
        await this.queue.retry(event.id, event.attempt, this.now() + delay);
        return;
      }
      if (await this.queue.complete(event.id, event.attempt)) {
        this.metrics.webhooksDropped.inc();
        this.logger.warn(
          `webhook event ${event.id} (${typeOf(event.body)}) dropped after ${event.attempt} attempts (last: ${describeOutcome(result)})`,
        );
      }
    } catch (error) {
      // The lease runs out and the event is sent again: at-least-once.
      this.reportFailure(`settling webhook event ${event.id} failed: ${(error as Error).message}`);
    }
  }

  /** Makes a claimed event due at once, for another replica (this one stops). */
  private async handBack(event: ClaimedWebhook): Promise<void> {
    try {
      await this.queue.retry(event.id, event.attempt, this.now());
    } catch (error) {
      this.reportFailure(`handing webhook event ${event.id} back failed: ${(error as Error).message}`);
    }
  }

  /** At most one warning per logIntervalMs, with how many failures it stands for. */
  private reportFailure(message: string): void {
    this.unreportedFailures += 1;
    const now = this.now();
    if (now - this.lastReportAt < this.options.logIntervalMs) return;
    const count = this.unreportedFailures;
    this.unreportedFailures = 0;
    this.lastReportAt = now;
    this.logger.warn(count > 1 ? `${message}; ${count} failures since the last report` : message);
  }
}

function describeOutcome(result: Exclude<AttemptOutcome, { outcome: 'delivered' }>): string {
  switch (result.outcome) {
    case 'failed_status':
      return `HTTP ${result.status}`;
    case 'timeout':
      return 'timeout';
    case 'network_error':
      return result.message;
  }
}

/** The event's type, for the drop line (the body is Herald's own JSON). */
function typeOf(body: string): string {
  return String((JSON.parse(body) as { type?: unknown }).type);
}
