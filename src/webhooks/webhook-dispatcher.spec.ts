import type { Metrics } from '../metrics/metrics';
import { MemoryWebhookQueue } from './memory-webhook.queue';
import { retryDelayMs, WebhookDispatcher, WebhookDispatcherOptions } from './webhook-dispatcher';
import { bucketOf, WebhookQueue } from './webhook-queue';
import type { AttemptOutcome } from './webhook-sender';

const OPTIONS: WebhookDispatcherOptions = {
  concurrency: 2,
  pollIntervalMs: 1000,
  leaseMs: 10_000,
  retryScheduleMs: [100, 400],
  logIntervalMs: 5000,
};

/** A sender whose every attempt stays open until the test answers it. */
function aScriptedSender() {
  const open: { body: string; attempt: number; answer: (outcome: AttemptOutcome) => void }[] = [];
  const sender = {
    sent: [] as { id: string; attempt: number }[],
    open,
    close: jest.fn(() => {
      for (const request of open.splice(0))
        request.answer({ outcome: 'network_error', message: 'socket hang up' });
    }),
    send: (body: string, attempt: number) =>
      new Promise<AttemptOutcome>((answer) => {
        sender.sent.push({ id: (JSON.parse(body) as { id: string }).id, attempt });
        open.push({ body, attempt, answer });
      }),
    /** Answers the oldest open attempt. */
    answer(outcome: AttemptOutcome) {
      const request = open.shift();
      if (!request) throw new Error('no attempt is open');
      request.answer(outcome);
    },
  };
  return sender;
}

function aMetrics() {
  const attempts: Record<string, number> = {};
  return {
    attempts,
    dropped: 0,
    pending: -1,
    webhookAttempts: {
      inc: ({ outcome }: { outcome: string }) => (attempts[outcome] = (attempts[outcome] ?? 0) + 1),
    },
    webhooksDropped: { inc: () => void 0 },
    webhooksPending: { set: (value: number) => void value },
  };
}

/** The recording fake in the place of prom-client's counters (only inc / set are called). */
const asMetrics = (fake: ReturnType<typeof aMetrics>) => fake as unknown as Metrics;

const anEvent = (id: string) =>
  JSON.stringify({ id, type: 'notification.delivered', createdAt: '', data: {} });
/** Lets settled promises run their callbacks (and due timers fire). */
const flush = (ms = 0) => jest.advanceTimersByTimeAsync(ms);
const FAILED: AttemptOutcome = { outcome: 'failed_status', status: 500 };
const DELIVERED: AttemptOutcome = { outcome: 'delivered', status: 204 };

describe(WebhookDispatcher.name, () => {
  const logger = { warn: jest.fn<void, [string]>() };
  let queue: WebhookQueue;
  let sender: ReturnType<typeof aScriptedSender>;
  let metrics: ReturnType<typeof aMetrics>;
  let sut: WebhookDispatcher;

  /** The event's state in the queue: claimable at `at`? */
  const claimableAt = async (id: string, at: number) => {
    const { claimed } = await queue.claim(bucketOf(id), at, 1, 100);
    await Promise.all(claimed.map((event) => queue.retry(event.id, event.attempt, 0)));
    return claimed.some((event) => event.id === id);
  };

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    logger.warn.mockClear();
    queue = new MemoryWebhookQueue();
    sender = aScriptedSender();
    metrics = aMetrics();
    metrics.webhooksDropped.inc = () => void (metrics.dropped += 1);
    metrics.webhooksPending.set = (value: number) => void (metrics.pending = value);
    sut = new WebhookDispatcher(queue, sender, asMetrics(metrics), logger, OPTIONS);
  });
  afterEach(async () => {
    await sut.stop();
    jest.useRealTimers();
  });

  it('sends a due event on wake and removes it once delivered', async () => {
    await queue.enqueue('e1', anEvent('e1'), Date.now());
    sut.wake();
    await flush();
    expect(sender.sent).toEqual([{ id: 'e1', attempt: 1 }]);
    sender.answer(DELIVERED);
    await flush();
    expect(metrics.attempts).toEqual({ delivered: 1 });
    await expect(claimableAt('e1', Number.MAX_SAFE_INTEGER)).resolves.toBe(false);
  });

  it('finds events by polling every bucket, without a wake', async () => {
    sut.start();
    await queue.enqueue('e1', anEvent('e1'), Date.now());
    await flush(1500);
    expect(sender.sent).toEqual([{ id: 'e1', attempt: 1 }]);
    expect(metrics.pending).toBe(1);
  });

  it('retries a failed attempt after the schedule’s wait, then drops it after the last with a warning and the metric', async () => {
    await queue.enqueue('e1', anEvent('e1'), Date.now());
    sut.start();
    sut.wake();
    await flush();
    sender.answer(FAILED);
    await flush();
    await expect(claimableAt('e1', Date.now() + 99)).resolves.toBe(false);
    await flush(100 + 1500);
    expect(sender.sent).toEqual([
      { id: 'e1', attempt: 1 },
      { id: 'e1', attempt: 2 },
    ]);
    sender.answer({ outcome: 'timeout' });
    await flush(400 + 1500);
    expect(sender.sent).toHaveLength(3);
    sender.answer({ outcome: 'network_error', message: 'ECONNREFUSED' });
    await flush();
    expect(metrics.attempts).toEqual({ failed_status: 1, timeout: 1, network_error: 1 });
    expect(metrics.dropped).toBe(1);
    expect(logger.warn).toHaveBeenLastCalledWith(
      'webhook event e1 (notification.delivered) dropped after 3 attempts (last: ECONNREFUSED)',
    );
    await expect(claimableAt('e1', Number.MAX_SAFE_INTEGER)).resolves.toBe(false);
  });

  it('keeps at most `concurrency` attempts in flight, and claims the rest as slots free up', async () => {
    for (const id of ['a', 'b', 'c', 'd', 'e']) await queue.enqueue(id, anEvent(id), Date.now());
    sut.wake();
    await flush();
    expect(sender.open).toHaveLength(2);
    sender.answer(DELIVERED);
    await flush();
    expect(sender.open).toHaveLength(2);
    expect(sender.sent).toHaveLength(3);
    for (let n = 0; n < 4; n++) {
      sender.answer(DELIVERED);
      await flush();
    }
    expect(sender.sent.map((sent) => sent.id).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(metrics.attempts).toEqual({ delivered: 5 });
  });

  it('on stop, cuts the attempts in flight and hands their events back due at once, even on their last attempt', async () => {
    sut = new WebhookDispatcher(queue, sender, asMetrics(metrics), logger, {
      ...OPTIONS,
      retryScheduleMs: [],
    });
    await queue.enqueue('e1', anEvent('e1'), Date.now());
    sut.wake();
    await flush();
    await sut.stop();
    expect(sender.close).toHaveBeenCalled();
    expect(metrics.dropped).toBe(0);
    await expect(claimableAt('e1', Date.now())).resolves.toBe(true);
  });

  it('does not poll after stop', async () => {
    sut.start();
    await sut.stop();
    await queue.enqueue('e1', anEvent('e1'), Date.now());
    sut.wake();
    await flush(5000);
    expect(sender.sent).toEqual([]);
  });

  it('warns about failing engine calls at most once per logIntervalMs, and keeps polling', async () => {
    const failing = new MemoryWebhookQueue();
    failing.claim = () => Promise.reject(new Error('engine unavailable: connection lost'));
    sut = new WebhookDispatcher(failing, sender, asMetrics(metrics), logger, OPTIONS);
    sut.start();
    await flush(3000);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn).toHaveBeenCalledWith(
      'claiming webhook events failed: engine unavailable: connection lost',
    );
    await flush(5000);
    expect(logger.warn).toHaveBeenCalledTimes(2);
    expect(logger.warn.mock.calls[1][0]).toMatch(/failures since the last report/);
  });

  it('leaves an event it could not settle leased, for a later claim to send again', async () => {
    const flaky = new MemoryWebhookQueue();
    flaky.complete = () => Promise.reject(new Error('engine unavailable'));
    sut = new WebhookDispatcher(flaky, sender, asMetrics(metrics), logger, OPTIONS);
    await flaky.enqueue('e1', anEvent('e1'), Date.now());
    sut.wake();
    await flush();
    sender.answer(DELIVERED);
    await flush();
    expect(logger.warn).toHaveBeenCalledWith('settling webhook event e1 failed: engine unavailable');
    const { claimed } = await flaky.claim(bucketOf('e1'), Date.now() + OPTIONS.leaseMs, 1, 10);
    expect(claimed).toMatchObject([{ id: 'e1', attempt: 2 }]);
  });
});

describe(retryDelayMs.name, () => {
  it('gives the wait after attempt n, and nothing after the last', () => {
    expect(retryDelayMs([100, 400], 1)).toBe(100);
    expect(retryDelayMs([100, 400], 2)).toBe(400);
    expect(retryDelayMs([100, 400], 3)).toBeUndefined();
  });
});
