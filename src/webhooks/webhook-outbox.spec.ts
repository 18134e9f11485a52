import { EngineUnavailableError } from '../common/errors';
import { MemoryWebhookQueue } from './memory-webhook.queue';
import { WebhookOutbox } from './webhook-outbox';
import { WEBHOOK_BUCKETS } from './webhook-queue';

describe(WebhookOutbox.name, () => {
  const NOW = Date.parse('2026-12-01T12:00:00.000Z');
  const event = { type: 'notification.delivered', data: { notificationId: 'n-1', userId: 'alice' } } as const;
  let queue: MemoryWebhookQueue;
  let dispatcher: { wake: jest.Mock };
  let sut: WebhookOutbox;

  beforeEach(() => {
    queue = new MemoryWebhookQueue();
    dispatcher = { wake: jest.fn() };
    sut = new WebhookOutbox(queue, dispatcher, () => NOW);
  });

  /** Every event the queue holds, due at `NOW`. */
  const queued = async () => {
    const all = [];
    for (let bucket = 0; bucket < WEBHOOK_BUCKETS; bucket++)
      all.push(...(await queue.claim(bucket, NOW, 1000, 100)).claimed);
    return all;
  };

  it('records {id, type, createdAt, data} due at once, then wakes the dispatcher', async () => {
    await sut.emit(event);
    const [claimed, ...others] = await queued();
    expect(others).toEqual([]);
    expect(JSON.parse(claimed.body)).toEqual({
      id: claimed.id,
      type: 'notification.delivered',
      createdAt: '2026-12-01T12:00:00.000Z',
      data: { notificationId: 'n-1', userId: 'alice' },
    });
    expect(Object.keys(JSON.parse(claimed.body) as object)).toEqual(['id', 'type', 'createdAt', 'data']);
    expect(dispatcher.wake).toHaveBeenCalledTimes(1);
  });

  it('gives every event an id of its own', async () => {
    await Promise.all([sut.emit(event), sut.emit(event), sut.emit(event)]);
    expect(new Set((await queued()).map((claimed) => claimed.id)).size).toBe(3);
  });

  it('rejects when the engine cannot record the event, and wakes nobody', async () => {
    queue.enqueue = () => Promise.reject(new EngineUnavailableError(new Error('connection lost')));
    await expect(sut.emit(event)).rejects.toBeInstanceOf(EngineUnavailableError);
    expect(dispatcher.wake).not.toHaveBeenCalled();
  });
});
