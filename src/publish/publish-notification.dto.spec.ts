import { BadRequestException } from '@nestjs/common';
import { RequestValidationPipe } from '../common/http-errors';
import { BatchItemDto } from './publish-batch.dto';
import { PublishNotificationDto } from './publish-notification.dto';
import { targetChannels } from './publish.service';

/** The pipe's answer as a promise, so that refusals read as rejections. */
const validate = (body: unknown): Promise<PublishNotificationDto> =>
  Promise.resolve().then(
    () =>
      new RequestValidationPipe().transform(body, {
        type: 'body',
        metatype: PublishNotificationDto,
      }) as PublishNotificationDto,
  );

const messageOf = async (body: unknown): Promise<string> => {
  try {
    await validate(body);
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestException);
    return (error as BadRequestException).message;
  }
  throw new Error('accepted');
};

describe(PublishNotificationDto.name, () => {
  it('accepts the contract example', async () => {
    const body = {
      users: ['alice'],
      topics: ['orders.42'],
      broadcast: false,
      type: 'order.shipped',
      payload: { orderId: 42 },
    };
    await expect(validate(body)).resolves.toMatchObject(body);
  });

  it.each([null, 0, 'text', [1, 2], false])('accepts any JSON payload: %j', async (payload) => {
    await expect(validate({ users: ['a'], type: 't', payload })).resolves.toMatchObject({ payload });
  });

  it('accepts a payload nested exactly 100 levels deep, and ids of U+FFFD and astral characters', async () => {
    const payload: unknown = JSON.parse('{"a":'.repeat(99) + '[]' + '}'.repeat(99));
    await expect(validate({ users: ['\ufffd', '🚚'], type: 't', payload })).resolves.toBeDefined();
  });

  it('refuses a payload nested 100,000 levels deep with the limit, not a stack overflow', async () => {
    const payload: unknown = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000));
    expect(await messageOf({ users: ['a'], type: 't', payload })).toBe(
      'payload must not nest arrays/objects more than 100 levels deep',
    );
  });

  it('counts the length of `type` in characters, a surrogate pair as one', async () => {
    await expect(validate({ users: ['a'], type: '🚚'.repeat(100), payload: 1 })).resolves.toBeDefined();
  });

  it('accepts null for the optional fields', async () => {
    const body = { users: ['a'], topics: null, broadcast: null, type: 't', payload: 1 };
    await expect(validate(body)).resolves.toMatchObject(body);
  });

  it.each([
    [{ users: 'a', type: 't', payload: 1 }, 'users must be an array'],
    [
      { users: Array(10001).fill('a'), type: 't', payload: 1 },
      'users must contain no more than 10000 elements',
    ],
    [{ users: [''], type: 't', payload: 1 }, 'each of users must be 1-200 characters'],
    [{ users: ['a'.repeat(201)], type: 't', payload: 1 }, 'each of users must be 1-200 characters'],
    [{ users: ['a\u0007b'], type: 't', payload: 1 }, 'users must not contain control characters'],
    [{ users: ['\ud800'], type: 't', payload: 1 }, 'users must be well-formed Unicode (no lone surrogate)'],
    [
      { users: ['ok', 'b\udc00'], type: 't', payload: 1 },
      'users must be well-formed Unicode (no lone surrogate)',
    ],
    [
      { users: ['a'], type: 't', payload: JSON.parse('['.repeat(101) + ']'.repeat(101)) as unknown },
      'payload must not nest arrays/objects more than 100 levels deep',
    ],
    [
      { topics: ['a b'], type: 't', payload: 1 },
      'each of topics must be 1-200 characters of [A-Za-z0-9._:-]',
    ],
    [{ topics: [1], type: 't', payload: 1 }, 'each value in topics must be a string'],
    [{ broadcast: 'yes', type: 't', payload: 1 }, 'broadcast must be a boolean value'],
    [{ users: ['a'], type: '', payload: 1 }, 'type must be longer than or equal to 1 characters'],
    [
      { users: ['a'], type: 'x'.repeat(101), payload: 1 },
      'type must be shorter than or equal to 100 characters',
    ],
    [{ users: ['a'], type: 't' }, 'payload is required (any JSON value)'],
    [
      { users: [1], type: 1, extra: 1 },
      'property extra should not exist; each value in users must be a string; type must be a string; payload is required (any JSON value)',
    ],
  ])('refuses %j with the message %j', async (body, message) => {
    expect(await messageOf(body)).toBe(message);
  });

  it.each([
    [{ users: ['a'], type: 't', payload: 1, extra: true }, 'extra'],
    [{ users: [42], type: 't', payload: 1 }, 'users'],
    [
      { topics: Array.from({ length: 101 }, (_, i) => `t${i}`), type: 't', payload: 1 },
      'topics must contain no more than 100',
    ],
    [{ users: ['a'], type: 5, payload: 1 }, 'type'],
    [{ users: ['a'], payload: 1 }, 'type'],
  ])('refuses %j naming the field', async (body, field) => {
    expect(await messageOf(body)).toContain(field);
  });
});

describe(BatchItemDto.name, () => {
  const check = (body: Record<string, unknown>) => BatchItemDto.validate(body);

  it('takes an idempotency key of 1-200 characters', () => {
    const item = { users: ['a'], type: 't', payload: 1, idempotencyKey: 'k-1' };
    expect(check(item)).toBe(item);
    expect(check({ ...item, idempotencyKey: '' })).toEqual([
      'idempotencyKey must be longer than or equal to 1 characters',
    ]);
    expect(check({ ...item, idempotencyKey: 7 })).toEqual(['idempotencyKey must be a string']);
  });

  it('refuses an idempotency key with a lone surrogate', () => {
    const item = { users: ['a'], type: 't', payload: 1, idempotencyKey: 'k\ud800' };
    expect(check(item)).toEqual(['idempotencyKey must be well-formed Unicode (no lone surrogate)']);
  });

  it('refuses an idempotency key on a plain publish body', () => {
    const item = { users: ['a'], type: 't', payload: 1, idempotencyKey: 'k-1' };
    expect(PublishNotificationDto.validate(item)).toEqual(['property idempotencyKey should not exist']);
  });
});

describe(RequestValidationPipe.name, () => {
  it.each([[[1, 2]], ['text'], [null]])('refuses a body that is not a JSON object: %j', async (body) => {
    expect(await messageOf(body)).toBe('the body must be a JSON object');
  });

  it('leaves parameters of plain types alone', () => {
    expect(new RequestValidationPipe().transform('user:alice', { type: 'param', metatype: String })).toBe(
      'user:alice',
    );
  });
});

describe(targetChannels.name, () => {
  it('maps targets to channels, each once, users then topics then broadcast', () => {
    const channels = targetChannels({
      users: ['b', 'a', 'b'],
      topics: ['x', 'x'],
      broadcast: true,
      type: 't',
      payload: 1,
    });
    expect(channels).toEqual(['user:b', 'user:a', 'topic:x', 'broadcast']);
  });

  it('refuses a request without any target', () => {
    expect(() => targetChannels({ users: [], topics: [], broadcast: false, type: 't', payload: 1 })).toThrow(
      'no target',
    );
  });
});

describe('offline delivery fields', () => {
  const base = { users: ['a'], type: 't', payload: 1 };

  it('accepts push, collapseKey and expiresAt', async () => {
    const body = {
      ...base,
      push: {
        title: 'T',
        body: 'B',
        url: 'https://x.example/',
        icon: 'https://x.example/i.png',
        urgency: 'high',
        afterMs: 0,
      },
      collapseKey: 'order_42-x',
      expiresAt: '2030-01-01T00:00:00Z',
    };
    await expect(validate(body)).resolves.toMatchObject(body);
  });

  it.each([
    [{ push: 'T' }, 'push must be an object {title, body?, url?, icon?, urgency?, afterMs?}'],
    [{ push: {} }, 'push.title must be a string'],
    [{ push: { title: '' } }, 'push.title must be longer than or equal to 1 characters'],
    [{ push: { title: 'x'.repeat(201) } }, 'push.title must be shorter than or equal to 200 characters'],
    [
      { push: { title: 'T', body: 'x'.repeat(1001) } },
      'push.body must be shorter than or equal to 1000 characters',
    ],
    [{ push: { title: 'T', urgency: 'urgent' } }, 'push.urgency must be one of very-low, low, normal, high'],
    [{ push: { title: 'T', afterMs: -1 } }, 'push.afterMs must be 0-86400000'],
    [{ push: { title: 'T', afterMs: 86_400_001 } }, 'push.afterMs must be 0-86400000'],
    [{ push: { title: 'T', afterMs: 1.5 } }, 'push.afterMs must be an integer'],
    [{ push: { title: 'T', sound: 'ding' } }, 'property push.sound should not exist'],
    [{ collapseKey: 'a b' }, 'collapseKey must be 1-32 characters of [A-Za-z0-9_-]'],
    [{ collapseKey: 'x'.repeat(33) }, 'collapseKey must be 1-32 characters of [A-Za-z0-9_-]'],
    [{ expiresAt: 5 }, 'expiresAt must be a string'],
  ])('refuses %j with %j', async (fields, message) => {
    expect(await messageOf({ ...base, ...fields })).toBe(message);
  });
});
