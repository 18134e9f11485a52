import type { DeliveryEvent } from '../webhooks/delivery-events';
import type { DeliveryRecord, PushContent } from './push-ledger';
import type { PushOutcome } from './web-push.sender';

/** How long a push is retried at most when the notification has no earlier `expiresAt`. */
export const RETRY_WINDOW_MS = 24 * 3600 * 1000;
/** The first retry's delay; each next one doubles, up to {@link MAX_RETRY_DELAY_MS}. */
export const FIRST_RETRY_DELAY_MS = 1000;
export const MAX_RETRY_DELAY_MS = 3600 * 1000;

/** What a claimed push calls for before anything is sent. */
export type FirstStep = 'drop' | 'expire' | 'send';

/**
 * `drop`: nothing left to do (acked, or settled by an earlier holder); `expire`: past `expiresAt`;
 * `send`: push the user's subscriptions (all of them, or those a retry left).
 */
export function firstStep(record: DeliveryRecord, content: PushContent, now: number): FirstStep {
  if (record.state === 'delivered') return 'drop';
  if (record.state !== 'pending' && (record.retry?.length ?? 0) === 0) return 'drop';
  if (content.expiresAt !== undefined && Date.parse(content.expiresAt) <= now) return 'expire';
  return 'send';
}

/** This attempt's subscriptions: every one the user has, or on a retry those still owed. */
export function attemptTargets<T extends { id: string }>(
  record: DeliveryRecord,
  subscriptions: readonly T[],
): T[] {
  if (record.retry === undefined) return [...subscriptions];
  const owed = new Set(record.retry);
  return subscriptions.filter((subscription) => owed.has(subscription.id));
}

export interface AttemptResult {
  subscriptionId: string;
  outcome: PushOutcome;
}

/** The record after an attempt, when to try again (if ever), and the final event (if settled). */
export interface Settlement {
  record: DeliveryRecord;
  retryAt?: number;
  event?: DeliveryEvent;
}

/** The record of a push that expired before it could go out, and its event. */
export function expired(record: DeliveryRecord, content: PushContent, userId: string): Settlement {
  if ((record.accepted ?? 0) > 0) return finalOf({ ...record, reason: 'expired' }, content, userId);
  return {
    record: { state: 'expired', reason: 'expired' },
    event: failed(content, userId, 'expired'),
  };
}

/**
 * Folds one attempt into the record. Accepted pushes add up (`pushed` as soon as one subscription took
 * it, `pushedAt` the first time); subscriptions answered with 429/5xx/network errors are retried with
 * exponential backoff (doubling from {@link FIRST_RETRY_DELAY_MS}, ±20 % jitter, capped at
 * {@link MAX_RETRY_DELAY_MS}, never sooner than the push service's Retry-After) until `expiresAt`, or
 * {@link RETRY_WINDOW_MS} after the notification; what remains then is given up. A first attempt that
 * found no subscription is `no_subscriptions`. `random` ∈ [0, 1) is for the jitter.
 */
export function settle(
  record: DeliveryRecord,
  content: PushContent,
  userId: string,
  results: readonly AttemptResult[],
  now: number,
  random: () => number = Math.random,
): Settlement {
  if (results.length === 0 && record.retry === undefined) {
    return {
      record: { state: 'no_subscriptions', reason: 'no_subscriptions' },
      event: failed(content, userId, 'no_subscriptions'),
    };
  }
  const newlyAccepted = results.filter((result) => result.outcome.kind === 'accepted').length;
  const accepted = (record.accepted ?? 0) + newlyAccepted;
  const pushedAt = record.pushedAt ?? (newlyAccepted > 0 ? now : undefined);
  const failures = results.filter((result) => result.outcome.kind !== 'accepted');
  const reason = failures.length > 0 ? reasonOf(failures[failures.length - 1].outcome) : record.reason;
  const attempts = (record.attempts ?? 0) + 1;
  const base: DeliveryRecord = {
    state: accepted > 0 ? 'pushed' : 'pending',
    accepted,
    attempts,
    ...(pushedAt === undefined ? {} : { pushedAt }),
    ...(reason === undefined ? {} : { reason }),
  };
  const retrying = results.filter((result) => result.outcome.kind === 'retry');
  if (retrying.length > 0) {
    const expiresAt = content.expiresAt === undefined ? Infinity : Date.parse(content.expiresAt);
    const deadline = Math.min(expiresAt, Date.parse(content.createdAt) + RETRY_WINDOW_MS);
    const retryAfter = Math.max(
      0,
      ...retrying.map(({ outcome }) => (outcome.kind === 'retry' ? (outcome.retryAfterMs ?? 0) : 0)),
    );
    const retryAt = now + Math.max(backoff(attempts, random), retryAfter);
    if (retryAt < deadline) {
      return { record: { ...base, retry: retrying.map((result) => result.subscriptionId) }, retryAt };
    }
    if (retryAt >= expiresAt && accepted === 0) return expired(base, content, userId);
  }
  return finalOf(base, content, userId);
}

/** Delay before retry number `attempts` (1 = the first retry). */
export function backoff(attempts: number, random: () => number = Math.random): number {
  const plain = Math.min(FIRST_RETRY_DELAY_MS * 2 ** Math.min(attempts - 1, 30), MAX_RETRY_DELAY_MS);
  return Math.round(plain * (0.8 + 0.4 * random()));
}

function finalOf(record: DeliveryRecord, content: PushContent, userId: string): Settlement {
  const rest: DeliveryRecord = { ...record };
  delete rest.retry;
  const accepted = rest.accepted ?? 0;
  if (accepted > 0) {
    return {
      record: { ...rest, state: 'pushed' },
      event: {
        type: 'notification.pushed',
        data: { notificationId: content.id, userId, subscriptions: accepted },
      },
    };
  }
  const reason = rest.reason ?? 'push failed';
  return { record: { ...rest, state: 'push_failed', reason }, event: failed(content, userId, reason) };
}

const failed = (content: PushContent, userId: string, reason: string): DeliveryEvent => ({
  type: 'notification.push_failed',
  data: { notificationId: content.id, userId, reason },
});

function reasonOf(outcome: PushOutcome): string {
  switch (outcome.kind) {
    case 'accepted':
      return 'accepted';
    case 'gone':
      return `subscription gone (${outcome.status})`;
    case 'rejected':
      return outcome.reason;
    case 'retry':
      return outcome.reason;
  }
}
