import { randomBytes, randomUUID } from 'node:crypto';
import type { NotificationData, PublishBody, PublishResponse } from './wire';

export type { NotificationData, PublishResponse };

/** A publish request body, as Herald takes it (`broadcast` is not used by the bench). */
export type PublishRequest = Omit<PublishBody, 'broadcast'>;

export function targetChannels(body: PublishRequest): string[] {
  return [...(body.users ?? []).map((u) => `user:${u}`), ...(body.topics ?? []).map((t) => `topic:${t}`)];
}

/**
 * What the peer and the floor send: a notification of the same JSON shape as Herald's `notification`
 * frame data (the one wire definition, src/protocol/wire.ts), so that their clients receive frames of
 * the same size and do the same work. Neither keeps history: `offset` is a per-process counter and
 * `epoch` a per-process random string.
 */
export class NotificationFactory {
  private offset = 0;
  /** 8 characters, like Herald's epochs. */
  private readonly epoch = randomBytes(6).toString('base64url');

  /** One notification per target channel, sharing one id, and the 202 response describing them. */
  make(body: PublishRequest): { notifications: NotificationData[]; response: PublishResponse } {
    const id = randomUUID();
    const createdAt = new Date().toISOString();
    const notifications = targetChannels(body).map((channel) => ({
      id,
      channel,
      offset: ++this.offset,
      epoch: this.epoch,
      type: body.type,
      payload: body.payload,
      createdAt,
    }));
    const deliveries = notifications.map(({ channel, offset, epoch }) => ({ channel, offset, epoch }));
    return { notifications, response: { id, deliveries } };
  }
}

/** The peer's checks: roughly what a hand-written endpoint validates. Returns an error message or undefined. */
export function invalidPublishRequest(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body must be an object';
  const { users, topics, type } = body as Record<string, unknown>;
  const stringArray = (v: unknown, max: number): boolean =>
    v === undefined ||
    (Array.isArray(v) && v.length <= max && v.every((x) => typeof x === 'string' && x.length > 0));
  if (!stringArray(users, 10_000)) return 'users must be an array of at most 10000 ids';
  if (!stringArray(topics, 100)) return 'topics must be an array of at most 100 names';
  if (users === undefined && topics === undefined) return 'at least one target is required';
  if (typeof type !== 'string' || type.length < 1 || type.length > 100) return 'type must be 1-100 chars';
  return undefined;
}
