import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { length } from 'class-validator';
import { MAX_PAYLOAD_DEPTH, nestsDeeperThan } from '../common/json-depth';
import { isTopicName, isWellFormed, MAX_ID_LENGTH, NO_CONTROL_CHARS } from '../common/channel';

export const MAX_USERS = 10000;
export const MAX_TOPICS = 100;
const MAX_TYPE_LENGTH = 100;

/**
 * A publish body (and, with `idempotencyKey`, a batch item). It is checked by {@link validate} — by
 * hand rather than by class-validator decorators, because every publish and every batch item goes
 * through it: class-validator looks its metadata up and allocates on each call, which showed as a
 * tenth of a publish's CPU. The messages are worded as the rest of the API's (class-validator's).
 */
export class PublishNotificationDto {
  @ApiPropertyOptional({
    type: [String],
    maxItems: MAX_USERS,
    example: ['alice'],
    description: 'user ids (1-200 chars of well-formed Unicode, no control chars)',
  })
  users?: string[];

  @ApiPropertyOptional({
    type: [String],
    maxItems: MAX_TOPICS,
    example: ['orders.42'],
    description: 'topic names ([A-Za-z0-9._:-], 1-200 chars)',
  })
  topics?: string[];

  @ApiPropertyOptional({ example: false, description: 'also deliver to every connection' })
  broadcast?: boolean;

  @ApiProperty({ minLength: 1, maxLength: MAX_TYPE_LENGTH, example: 'order.shipped' })
  type!: string;

  @ApiProperty({
    description: `any JSON value (at most ${MAX_PAYLOAD_DEPTH} levels of nested arrays/objects), delivered as is`,
    example: { orderId: 42 },
  })
  payload!: unknown;

  /** The body as a publish request, or every problem found (one per field), for a 400. */
  static validate(body: Record<string, unknown>): PublishNotificationDto | string[] {
    const problems = checkPublish(body, PUBLISH_FIELDS);
    return problems.length > 0 ? problems : (body as unknown as PublishNotificationDto);
  }
}

export const PUBLISH_FIELDS: ReadonlySet<string> = new Set([
  'users',
  'topics',
  'broadcast',
  'type',
  'payload',
]);

/** The problems of a publish body, one per field at most; `fields` are the properties allowed. */
export function checkPublish(body: Record<string, unknown>, fields: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  for (const key in body) if (!fields.has(key)) problems.push(`property ${key} should not exist`);
  const { users, topics, broadcast, type, payload } = body;
  const usersProblem = isAbsent(users) ? undefined : listProblem('users', users, MAX_USERS, userProblem);
  if (usersProblem) problems.push(usersProblem);
  const topicsProblem = isAbsent(topics)
    ? undefined
    : listProblem('topics', topics, MAX_TOPICS, topicProblem);
  if (topicsProblem) problems.push(topicsProblem);
  if (!isAbsent(broadcast) && typeof broadcast !== 'boolean')
    problems.push('broadcast must be a boolean value');
  const typeProblem = lengthProblem('type', type, MAX_TYPE_LENGTH);
  if (typeProblem) problems.push(typeProblem);
  // JSON has no `undefined`: undefined means the property was absent.
  if (payload === undefined) problems.push('payload is required (any JSON value)');
  else if (nestsDeeperThan(payload, MAX_PAYLOAD_DEPTH))
    problems.push(`payload must not nest arrays/objects more than ${MAX_PAYLOAD_DEPTH} levels deep`);
  return problems;
}

/** An optional field may be left out or null. */
export const isAbsent = (value: unknown): boolean => value === undefined || value === null;

/**
 * A required string of 1 to `max` characters, counted as class-validator's `@Length` counts them (a
 * surrogate pair is one character), as the rest of the API does.
 */
export function lengthProblem(field: string, value: unknown, max: number): string | undefined {
  if (typeof value !== 'string') return `${field} must be a string`;
  if (!length(value, 1)) return `${field} must be longer than or equal to 1 characters`;
  if (!length(value, 0, max)) return `${field} must be shorter than or equal to ${max} characters`;
  return undefined;
}

function listProblem(
  field: string,
  value: unknown,
  max: number,
  itemProblem: (item: unknown) => string | undefined,
): string | undefined {
  if (!Array.isArray(value)) return `${field} must be an array`;
  if (value.length > max) return `${field} must contain no more than ${max} elements`;
  for (const item of value) {
    const problem = itemProblem(item);
    if (problem) return problem;
  }
  return undefined;
}

function userProblem(user: unknown): string | undefined {
  if (typeof user !== 'string') return 'each value in users must be a string';
  if (user.length < 1 || user.length > MAX_ID_LENGTH) return 'each of users must be 1-200 characters';
  if (!NO_CONTROL_CHARS.test(user)) return 'users must not contain control characters';
  if (!isWellFormed(user)) return 'users must be well-formed Unicode (no lone surrogate)';
  return undefined;
}

function topicProblem(topic: unknown): string | undefined {
  if (typeof topic !== 'string') return 'each value in topics must be a string';
  if (!isTopicName(topic)) return 'each of topics must be 1-200 characters of [A-Za-z0-9._:-]';
  return undefined;
}
