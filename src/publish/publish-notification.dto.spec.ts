import { BadRequestException } from '@nestjs/common';
import { RequestValidationPipe } from '../common/http-errors';
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
