import { randomBytes } from 'node:crypto';
import { NotificationDraft } from './broker';

/**
 * The `notification` frame data is made from three parts so that the engine can insert the offset and
 * epoch it assigns while storing, without parsing JSON: `head(channel) + offset + ',"epoch":"' + epoch
 * + '"' + tail`. The Redis publish script concatenates the same way.
 *
 * Only what the publisher chose is escaped: the channel (a user id may hold `"` or `\`), the type
 * (any text) and the payload. The id (a UUID) and the timestamps (ISO-8601 from `toISOString`) never
 * need escaping and are quoted as they are.
 */
export function dataHead(id: string, channel: string): string {
  return `{"id":"${id}","channel":${JSON.stringify(channel)},"offset":`;
}

export function dataTail(draft: NotificationDraft): string {
  const payload = JSON.stringify(draft.payload) ?? 'null';
  const expiresAt = draft.expiresAt === undefined ? '' : `,"expiresAt":"${draft.expiresAt}"`;
  return `,"type":${JSON.stringify(draft.type)},"payload":${payload},"createdAt":"${draft.createdAt}"${expiresAt}}`;
}

export function composeData(head: string, offset: number, epoch: string, tail: string): string {
  return `${head}${offset},"epoch":"${epoch}"${tail}`;
}

/** A `notification` frame around stored data. */
export function notificationFrame(data: string): string {
  return `{"event":"notification","data":${data}}`;
}

const EPOCH_BYTES = 6;
const EPOCH_POOL_BYTES = EPOCH_BYTES * 1024;
let epochPool = Buffer.alloc(0);
let epochPoolUsed = 0;

/**
 * A new epoch: 8 characters of base64url (48 random bits), so it never needs escaping inside JSON.
 * Drawn from a pool of random bytes: one is made per publish, and a syscall each would show.
 */
export function newEpoch(): string {
  if (epochPoolUsed + EPOCH_BYTES > epochPool.length) {
    epochPool = randomBytes(EPOCH_POOL_BYTES);
    epochPoolUsed = 0;
  }
  epochPoolUsed += EPOCH_BYTES;
  return epochPool.toString('base64url', epochPoolUsed - EPOCH_BYTES, epochPoolUsed);
}
