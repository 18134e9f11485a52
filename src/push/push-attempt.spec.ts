import { attemptTargets, backoff, expired, firstStep, MAX_RETRY_DELAY_MS, settle } from './push-attempt';
import type { PushContent } from './push-ledger';
import type { PushOutcome } from './web-push.sender';

const NOW = Date.parse('2030-01-01T12:00:00.000Z');
const aContent = (overrides: Partial<PushContent> = {}): PushContent => ({
  id: 'n-1',
  type: 't',
  payload: null,
  createdAt: new Date(NOW - 1000).toISOString(),
  title: 'T',
  body: null,
  url: null,
  icon: null,
  urgency: 'normal',
  ...overrides,
});
const ACCEPTED: PushOutcome = { kind: 'accepted' };
const RETRY: PushOutcome = { kind: 'retry', status: 503, reason: 'push service answered 503' };
const result = (subscriptionId: string, outcome: PushOutcome) => ({ subscriptionId, outcome });
/** No jitter: the plain backoff. */
const middle = () => 0.5;

describe(firstStep.name, () => {
  it.each([
    [{ state: 'delivered' as const }, 'drop'],
    [{ state: 'pushed' as const }, 'drop'],
    [{ state: 'push_failed' as const }, 'drop'],
    [{ state: 'pushed' as const, retry: ['s2'] }, 'send'],
    [{ state: 'pending' as const }, 'send'],
  ])('%j → %s', (record, step) => {
    expect(firstStep(record, aContent(), NOW)).toBe(step);
  });

  it('expires a push whose expiresAt has passed', () => {
    expect(firstStep({ state: 'pending' }, aContent({ expiresAt: new Date(NOW).toISOString() }), NOW)).toBe(
      'expire',
    );
    expect(
      firstStep({ state: 'pending' }, aContent({ expiresAt: new Date(NOW + 1).toISOString() }), NOW),
    ).toBe('send');
  });
});

describe(attemptTargets.name, () => {
  const subscriptions = [{ id: 's1' }, { id: 's2' }, { id: 's3' }];
  it('takes every subscription first, then only those a retry owes', () => {
    expect(attemptTargets({ state: 'pending' }, subscriptions)).toEqual(subscriptions);
    expect(attemptTargets({ state: 'pending', retry: ['s3', 'gone'] }, subscriptions)).toEqual([
      { id: 's3' },
    ]);
  });
});

describe(settle.name, () => {
  it('is no_subscriptions when a first attempt finds none', () => {
    expect(settle({ state: 'pending' }, aContent(), 'u', [], NOW)).toEqual({
      record: { state: 'no_subscriptions', reason: 'no_subscriptions' },
      event: {
        type: 'notification.push_failed',
        data: { notificationId: 'n-1', userId: 'u', reason: 'no_subscriptions' },
      },
    });
  });

  it('is pushed, with the number of subscriptions that accepted it', () => {
    const results = [
      result('s1', ACCEPTED),
      result('s2', { kind: 'gone', status: 410 }),
      result('s3', ACCEPTED),
    ];
    expect(settle({ state: 'pending' }, aContent(), 'u', results, NOW)).toEqual({
      record: { state: 'pushed', pushedAt: NOW, accepted: 2, attempts: 1, reason: 'subscription gone (410)' },
      event: { type: 'notification.pushed', data: { notificationId: 'n-1', userId: 'u', subscriptions: 2 } },
    });
  });

  it('is push_failed, with the last reason, when none accepted and nothing is left to retry', () => {
    const results = [result('s1', { kind: 'rejected', status: 413, reason: 'push service answered 413' })];
    expect(settle({ state: 'pending' }, aContent(), 'u', results, NOW)).toMatchObject({
      record: { state: 'push_failed', accepted: 0, reason: 'push service answered 413' },
      event: { type: 'notification.push_failed', data: { reason: 'push service answered 413' } },
    });
  });

  it('retries only the subscriptions that asked for it, pushed already when another accepted', () => {
    const settlement = settle(
      { state: 'pending' },
      aContent(),
      'u',
      [result('s1', ACCEPTED), result('s2', RETRY)],
      NOW,
      middle,
    );
    expect(settlement).toEqual({
      record: {
        state: 'pushed',
        pushedAt: NOW,
        accepted: 1,
        attempts: 1,
        retry: ['s2'],
        reason: 'push service answered 503',
      },
      retryAt: NOW + 1000,
    });
  });

  it('backs off exponentially, never sooner than Retry-After', () => {
    const third = settle(
      { state: 'pending', attempts: 2, retry: ['s1'], accepted: 0 },
      aContent(),
      'u',
      [result('s1', RETRY)],
      NOW,
      middle,
    );
    expect(third.retryAt).toBe(NOW + 4000);
    const slow = { kind: 'retry' as const, status: 429, reason: '429', retryAfterMs: 30_000 };
    expect(settle({ state: 'pending' }, aContent(), 'u', [result('s1', slow)], NOW, middle).retryAt).toBe(
      NOW + 30_000,
    );
  });

  it('adds the accepted ones of a retry to the earlier ones and keeps the first pushedAt', () => {
    const record = {
      state: 'pushed' as const,
      pushedAt: NOW - 5000,
      accepted: 1,
      attempts: 1,
      retry: ['s2'],
    };
    expect(settle(record, aContent(), 'u', [result('s2', ACCEPTED)], NOW)).toMatchObject({
      record: { state: 'pushed', pushedAt: NOW - 5000, accepted: 2, attempts: 2 },
      event: { type: 'notification.pushed', data: { subscriptions: 2 } },
    });
    expect(settle(record, aContent(), 'u', [result('s2', ACCEPTED)], NOW).record).not.toHaveProperty('retry');
  });

  it('gives up 24 h after the notification', () => {
    const old = aContent({ createdAt: new Date(NOW - 24 * 3600 * 1000 + 500).toISOString() });
    expect(settle({ state: 'pending' }, old, 'u', [result('s1', RETRY)], NOW, middle)).toMatchObject({
      record: { state: 'push_failed', reason: 'push service answered 503' },
      event: { type: 'notification.push_failed' },
    });
  });

  it('is expired when the next retry would come after expiresAt and nothing was accepted', () => {
    const soon = aContent({ expiresAt: new Date(NOW + 500).toISOString() });
    expect(settle({ state: 'pending' }, soon, 'u', [result('s1', RETRY)], NOW, middle)).toEqual({
      record: { state: 'expired', reason: 'expired' },
      event: {
        type: 'notification.push_failed',
        data: { notificationId: 'n-1', userId: 'u', reason: 'expired' },
      },
    });
  });

  it('finishes a retry whose subscriptions all went meanwhile with what was accepted before', () => {
    const record = { state: 'pushed' as const, pushedAt: 1, accepted: 3, retry: ['s9'] };
    expect(settle(record, aContent(), 'u', [], NOW).event).toEqual({
      type: 'notification.pushed',
      data: { notificationId: 'n-1', userId: 'u', subscriptions: 3 },
    });
  });
});

describe(expired.name, () => {
  it('keeps pushed when a subscription accepted it before expiry', () => {
    expect(
      expired({ state: 'pushed', accepted: 1, pushedAt: 3, retry: ['s2'] }, aContent(), 'u').record,
    ).toEqual({
      state: 'pushed',
      accepted: 1,
      pushedAt: 3,
      reason: 'expired',
    });
  });
});

describe(backoff.name, () => {
  it('doubles from 1 s with ±20 % jitter, up to an hour', () => {
    expect([1, 2, 3, 10].map((attempt) => backoff(attempt, middle))).toEqual([1000, 2000, 4000, 512_000]);
    expect(backoff(40, middle)).toBe(MAX_RETRY_DELAY_MS);
    expect(backoff(1, () => 0)).toBe(800);
    expect(backoff(1, () => 0.999999)).toBe(1200);
  });
});
