/**
 * Channel names as the contract defines them: `user:<userId>`, `topic:<name>`, `broadcast`.
 * Everything that takes a channel name from outside goes through {@link parseChannel}.
 */
export type ChannelKind = 'user' | 'topic' | 'broadcast';

export type Channel =
  | { kind: 'user'; userId: string; name: string }
  | { kind: 'topic'; topic: string; name: string }
  | { kind: 'broadcast'; name: string };

export const BROADCAST = 'broadcast';
export const MAX_ID_LENGTH = 200;

/** Text without control characters (user ids). */
// eslint-disable-next-line no-control-regex
export const NO_CONTROL_CHARS = /^[^\u0000-\u001f\u007f-\u009f]*$/;

/**
 * Well-formed UTF-16: no lone surrogate. (With the `u` flag a surrogate range matches only unpaired
 * halves.) An id must be exactly what reaches a key name: Redis receives ids as UTF-8, which turns
 * every lone surrogate into U+FFFD, so `\ud800`, `\udc00` and `\ufffd` would share one channel.
 */
const LONE_SURROGATE = /[\ud800-\udfff]/u;

export const isWellFormed = (value: string): boolean => !LONE_SURROGATE.test(value);
/** A whole topic name. */
export const TOPIC_NAME = /^[A-Za-z0-9._:-]{1,200}$/;

/** A user id: 1–200 characters of well-formed Unicode, none of them a control character. */
export function isUserId(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length >= 1 &&
    value.length <= MAX_ID_LENGTH &&
    NO_CONTROL_CHARS.test(value) &&
    isWellFormed(value)
  );
}

/** A topic name: 1–200 characters of `[A-Za-z0-9._:-]`. */
export function isTopicName(value: unknown): value is string {
  return typeof value === 'string' && TOPIC_NAME.test(value);
}

export const userChannel = (userId: string): string => `user:${userId}`;
export const topicChannel = (topic: string): string => `topic:${topic}`;

/** Parses a channel name; `null` when it is not one of the three kinds or its id is invalid. */
export function parseChannel(name: string): Channel | null {
  if (name === BROADCAST) return { kind: 'broadcast', name };
  if (name.startsWith('user:')) {
    const userId = name.slice(5);
    return isUserId(userId) ? { kind: 'user', userId, name } : null;
  }
  if (name.startsWith('topic:')) {
    const topic = name.slice(6);
    return isTopicName(topic) ? { kind: 'topic', topic, name } : null;
  }
  return null;
}
