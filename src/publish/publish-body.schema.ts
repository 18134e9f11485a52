import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { isUserId, MAX_ID_LENGTH, NO_CONTROL_CHARS, isWellFormed } from '../common/channel';
import { MAX_PAYLOAD_DEPTH, nestsDeeperThan } from '../common/json-depth';

export const MAX_USERS = 10000;
export const MAX_TOPICS = 100;
/** The most notifications one batch request may carry. */
export const MAX_BATCH_ITEMS = 1000;
const MAX_TYPE_LENGTH = 100;
const MAX_IDEMPOTENCY_KEY_LENGTH = 200;
const MAX_PUSH_TITLE_LENGTH = 200;
const MAX_PUSH_BODY_LENGTH = 1000;
/** `url` and `icon` of a push: room for real URLs, and the message must fit 4,096 bytes encrypted. */
const MAX_PUSH_URL_LENGTH = 1000;
export const MAX_AFTER_MS = 86_400_000;
export const PUSH_URGENCIES = ['very-low', 'low', 'normal', 'high'] as const;

/**
 * A JSON Schema object (the subset these bodies use) as both ajv and OpenAPI 3.0 read it (`nullable`
 * rather than a `null` type).
 */
export type JsonSchema = Record<string, unknown>;

/**
 * The publish body — the one definition of its rules: compiled once (ajv, Fastify's validator) to
 * check every publish and every batch item, and handed as is to the OpenAPI document (`@ApiBody`).
 * The rules JSON Schema cannot say are keywords of this file, named as OpenAPI extensions: `x-user-id`
 * (1–200 UTF-16 units, no control character, well-formed Unicode), `x-well-formed` (no lone
 * surrogate) and `x-max-depth` (nesting of arrays/objects).
 */
const PUBLISH_PROPERTIES = {
  users: {
    type: 'array',
    nullable: true,
    maxItems: MAX_USERS,
    items: { type: 'string', 'x-user-id': true },
    description: 'user ids (1-200 chars of well-formed Unicode, no control chars)',
    example: ['alice'],
  },
  topics: {
    type: 'array',
    nullable: true,
    maxItems: MAX_TOPICS,
    items: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,200}$' },
    description: 'topic names ([A-Za-z0-9._:-], 1-200 chars)',
    example: ['orders.42'],
  },
  broadcast: {
    type: 'boolean',
    nullable: true,
    description: 'also deliver to every connection',
    example: false,
  },
  type: { type: 'string', minLength: 1, maxLength: MAX_TYPE_LENGTH, example: 'order.shipped' },
  payload: {
    'x-max-depth': MAX_PAYLOAD_DEPTH,
    description: `any JSON value (at most ${MAX_PAYLOAD_DEPTH} levels of nested arrays/objects), delivered as is`,
    example: { orderId: 42 },
  },
  push: {
    type: 'object',
    additionalProperties: false,
    required: ['title'],
    description:
      'Web Push for target users who do not get it live: at once when they have no live connection, after afterMs when no connection of theirs acked it (needs users)',
    properties: {
      title: {
        type: 'string',
        minLength: 1,
        maxLength: MAX_PUSH_TITLE_LENGTH,
        example: 'Your order shipped',
      },
      body: { type: 'string', maxLength: MAX_PUSH_BODY_LENGTH, example: 'Order 42 is on its way' },
      url: {
        type: 'string',
        maxLength: MAX_PUSH_URL_LENGTH,
        description: 'opened when the notification is clicked',
      },
      icon: { type: 'string', maxLength: MAX_PUSH_URL_LENGTH },
      urgency: { type: 'string', enum: PUSH_URGENCIES, description: 'the Web Push Urgency (default normal)' },
      afterMs: {
        type: 'integer',
        minimum: 0,
        maximum: MAX_AFTER_MS,
        description: 'how long an online user has to ack before the push (default 10000)',
      },
    },
  },
  collapseKey: {
    type: 'string',
    pattern: '^[A-Za-z0-9_-]{1,32}$',
    description: 'the Web Push Topic: a newer push with the same key replaces an undelivered one',
  },
  expiresAt: {
    type: 'string',
    description:
      'ISO-8601, in the future, at most 28 days ahead: no push after it, the push TTL is the time left, and the notification frame carries it',
    example: '2030-01-01T00:00:00Z',
  },
};

export const PUBLISH_BODY_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'payload'],
  properties: PUBLISH_PROPERTIES,
};

export const BATCH_ITEM_SCHEMA: JsonSchema = {
  ...PUBLISH_BODY_SCHEMA,
  properties: {
    ...PUBLISH_PROPERTIES,
    idempotencyKey: {
      type: 'string',
      nullable: true,
      minLength: 1,
      maxLength: MAX_IDEMPOTENCY_KEY_LENGTH,
      'x-well-formed': true,
      description: 'like the Idempotency-Key header, for this item',
    },
  },
};

/**
 * The batch envelope. Items are checked one by one against {@link BATCH_ITEM_SCHEMA} (an invalid item
 * gets an error result and does not stop the others), so here they only need to be objects.
 */
export const BATCH_BODY_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['notifications'],
  properties: {
    notifications: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_BATCH_ITEMS,
      items: { type: 'object' },
    },
  },
};

/** For OpenAPI: the batch envelope with its items described in full. */
export const BATCH_BODY_DOCUMENT: JsonSchema = {
  ...BATCH_BODY_SCHEMA,
  properties: {
    notifications: {
      ...(BATCH_BODY_SCHEMA.properties as { notifications: JsonSchema }).notifications,
      items: BATCH_ITEM_SCHEMA,
    },
  },
};

const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addKeyword({
  keyword: 'x-user-id',
  type: 'string',
  schemaType: 'boolean',
  validate: (_schema: boolean, value: string) => isUserId(value),
});
ajv.addKeyword({
  keyword: 'x-well-formed',
  type: 'string',
  schemaType: 'boolean',
  validate: (_schema: boolean, value: string) => isWellFormed(value),
});
ajv.addKeyword({
  keyword: 'x-max-depth',
  schemaType: 'number',
  validate: (limit: number, value: unknown) => !nestsDeeperThan(value, limit),
});

/** The messages, worded as the rest of the API's (class-validator's), one per field. */
function problemOf(field: string, error: ErrorObject, value: unknown): string {
  if (field === 'push' || field.startsWith('push.')) return pushProblemOf(field, error);
  if (field === 'collapseKey' && error.keyword === 'pattern')
    return 'collapseKey must be 1-32 characters of [A-Za-z0-9_-]';
  const item = error.instancePath.split('/').length > 2;
  switch (error.keyword) {
    case 'additionalProperties':
      return `property ${String(error.params.additionalProperty)} should not exist`;
    case 'required':
      return field === 'payload' ? 'payload is required (any JSON value)' : `${field} must be a string`;
    case 'type':
      if (item) return `each value in ${field} must be a string`;
      if (field === 'broadcast') return 'broadcast must be a boolean value';
      if (field === 'notifications') return 'notifications must be an array';
      return error.params.type === 'array' ? `${field} must be an array` : `${field} must be a string`;
    case 'maxItems':
      return `${field} must contain no more than ${String(error.params.limit)} elements`;
    case 'minItems':
      return `${field} must contain at least ${String(error.params.limit)} elements`;
    case 'minLength':
      return `${field} must be longer than or equal to ${String(error.params.limit)} characters`;
    case 'maxLength':
      return `${field} must be shorter than or equal to ${String(error.params.limit)} characters`;
    case 'pattern':
      return `each of ${field} must be 1-200 characters of [A-Za-z0-9._:-]`;
    case 'x-user-id':
      return userIdProblem(value);
    case 'x-well-formed':
      return `${field} must be well-formed Unicode (no lone surrogate)`;
    case 'x-max-depth':
      return `payload must not nest arrays/objects more than ${MAX_PAYLOAD_DEPTH} levels deep`;
    default:
      return `${field}: ${error.message ?? 'is invalid'}`;
  }
}

function pushProblemOf(field: string, error: ErrorObject): string {
  switch (error.keyword) {
    case 'additionalProperties':
      return `property push.${String(error.params.additionalProperty)} should not exist`;
    case 'type':
      return field === 'push'
        ? 'push must be an object {title, body?, url?, icon?, urgency?, afterMs?}'
        : field === 'push.afterMs'
          ? 'push.afterMs must be an integer'
          : `${field} must be a string`;
    case 'enum':
      return `push.urgency must be one of ${PUSH_URGENCIES.join(', ')}`;
    case 'minimum':
    case 'maximum':
      return `push.afterMs must be 0-${MAX_AFTER_MS}`;
    default:
      return problemOf('', error, undefined).replace(/^/, field);
  }
}

function userIdProblem(user: unknown): string {
  const id = String(user);
  if (id.length < 1 || id.length > MAX_ID_LENGTH) return 'each of users must be 1-200 characters';
  if (!NO_CONTROL_CHARS.test(id)) return 'users must not contain control characters';
  if (!isWellFormed(id)) return 'users must be well-formed Unicode (no lone surrogate)';
  return 'each of users must be a valid user id';
}

/** Which problem of a field is reported when it has several: its type, then its size, then its items. */
const KEYWORD_RANK: Record<string, number> = { type: 0, required: 0, maxItems: 1, minItems: 1 };

/** A body schema compiled once; {@link check} answers the body as `T`, or its problems (one per field). */
export class BodySchema<T> {
  private readonly validator: ValidateFunction;
  private readonly fieldOrder: string[];

  constructor(readonly schema: JsonSchema) {
    this.validator = ajv.compile(schema);
    this.fieldOrder = Object.keys(schema.properties as Record<string, unknown>);
  }

  check(body: Record<string, unknown>): T | string[] {
    if (this.validator(body)) return body as T;
    const byField = new Map<string, { rank: number; problem: string }>();
    const extra: string[] = [];
    for (const error of this.validator.errors ?? []) {
      if (error.keyword === 'additionalProperties') {
        extra.push(problemOf(error.instancePath === '/push' ? 'push' : '', error, undefined));
        continue;
      }
      const path = error.instancePath.split('/');
      const missing = error.keyword === 'required' ? String(error.params.missingProperty) : undefined;
      // Inside `push`, problems are named push.<field> and reported as the `push` field's.
      const top = path[1] ?? missing ?? '';
      const field =
        top === 'push' && (path.length > 2 || missing !== undefined)
          ? `push.${missing ?? path[2]}`
          : (missing ?? top);
      const rank = KEYWORD_RANK[error.keyword] ?? 2;
      if ((byField.get(top)?.rank ?? Number.POSITIVE_INFINITY) <= rank) continue;
      const value = path.slice(1).reduce<unknown>((at, key) => (at as Record<string, unknown>)?.[key], body);
      byField.set(top, { rank, problem: problemOf(field, error, value) });
    }
    const problems = extra;
    for (const field of this.fieldOrder) {
      const found = byField.get(field);
      if (found) problems.push(found.problem);
    }
    return problems;
  }
}
