import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import type { NotificationDraft } from '../broker/broker';
import { AppConfig } from '../config/app-config';
import { PresenceRegistry } from '../presence/presence.registry';
import type { PublishBody } from '../protocol/wire';
import { PushContent, PushLedger } from './push-ledger';
import { WEB_PUSH_SENDER, WebPushSender } from './web-push.sender';

/** How long an online user has to ack before the push goes out, unless `push.afterMs` says. */
export const DEFAULT_AFTER_MS = 10_000;
/** The furthest ahead `expiresAt` may be (push services keep a message at most about four weeks). */
export const MAX_EXPIRY_MS = 28 * 24 * 3600 * 1000;

/** A publish's pushes, recorded and waiting for the notification to be stored. */
export interface RecordedPush {
  notificationId: string;
  afterMs: number;
  /** Target users whose push is still to be scheduled. */
  pending: string[];
}

/**
 * Why the offline-delivery fields of a publish cannot be taken (the 400 message), or undefined:
 * `push` needs `users` (only personal channels are pushed), and `expiresAt` must be a time in the
 * future at most 28 days ahead. The schema checks their shapes; these rules need the body or the clock.
 */
export function offlineFieldsProblem(request: PublishBody, now: number): string | undefined {
  if (request.push && (request.users ?? []).length === 0)
    return 'push needs users: only users targets are pushed';
  if (request.expiresAt === undefined) return undefined;
  const at = Date.parse(request.expiresAt);
  if (Number.isNaN(at)) return 'expiresAt must be an ISO-8601 date-time';
  if (at <= now) return 'expiresAt must be in the future';
  if (at > now + MAX_EXPIRY_MS) return 'expiresAt must be at most 28 days ahead';
  return undefined;
}

export function checkOfflineFields(request: PublishBody, now = Date.now()): void {
  const problem = offlineFieldsProblem(request, now);
  if (problem) throw new BadRequestException(problem);
}

/**
 * The publish side of offline delivery. Before a notification with `push` is stored, {@link record}
 * writes its push content and a `pending` record per target user (so an ack that follows the live
 * delivery at once finds it); after it is stored, {@link schedule} makes each pending user's push due —
 * at once for a user with no live connection anywhere in the cluster (presence), after `afterMs` for one
 * who is online — and only then does the publish answer 202: a replica that dies afterwards loses
 * nothing. With Web Push off, the records say `no_subscriptions` and nothing is scheduled.
 */
@Injectable()
export class OfflineDelivery {
  constructor(
    @Inject(PushLedger) private readonly ledger: PushLedger,
    @Inject(PresenceRegistry) private readonly presence: PresenceRegistry,
    @Inject(WEB_PUSH_SENDER) private readonly sender: WebPushSender | null,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  async record(
    items: readonly { request: PublishBody; draft: NotificationDraft }[],
  ): Promise<RecordedPush[]> {
    const withPush = items.filter(({ request }) => request.push !== undefined);
    return Promise.all(
      withPush.map(async ({ request, draft }) => {
        const users = [...new Set(request.users ?? [])];
        const pending = await this.ledger.record(
          contentOf(request, draft),
          users,
          this.sender ? 'pending' : 'no_subscriptions',
          this.config.idempotencyTtlSeconds,
        );
        return { notificationId: draft.id, afterMs: request.push?.afterMs ?? DEFAULT_AFTER_MS, pending };
      }),
    );
  }

  async schedule(recorded: readonly RecordedPush[]): Promise<void> {
    await Promise.all(
      recorded.map(async ({ notificationId, afterMs, pending }) => {
        if (pending.length === 0) return;
        const online = await Promise.all(pending.map((userId) => this.presence.count(userId)));
        const now = Date.now();
        await this.ledger.schedule(
          notificationId,
          pending.map((userId, i) => ({ userId, dueAt: online[i] > 0 ? now + afterMs : now })),
        );
      }),
    );
  }
}

function contentOf(request: PublishBody, draft: NotificationDraft): PushContent {
  const push = request.push as NonNullable<PublishBody['push']>;
  return {
    id: draft.id,
    type: draft.type,
    payload: draft.payload,
    createdAt: draft.createdAt,
    title: push.title,
    body: push.body ?? null,
    url: push.url ?? null,
    icon: push.icon ?? null,
    urgency: push.urgency ?? 'normal',
    ...(request.collapseKey === undefined ? {} : { collapseKey: request.collapseKey }),
    ...(request.expiresAt === undefined ? {} : { expiresAt: new Date(request.expiresAt).toISOString() }),
  };
}
