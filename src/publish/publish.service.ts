import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Broker, Delivery } from '../broker/broker';
import { BROADCAST, topicChannel, userChannel } from '../common/channel';
import { IdempotentExecution, IdempotentOutcome } from '../idempotency/idempotent-execution';
import { PublishNotificationDto } from './publish-notification.dto';

export interface PublishResult {
  id: string;
  deliveries: Delivery[];
}

/** Turns a publish request into channels and hands it to the engine. */
@Injectable()
export class PublishService {
  constructor(
    @Inject(Broker) private readonly broker: Broker,
    @Inject(IdempotentExecution) private readonly idempotent: IdempotentExecution,
  ) {}

  /** Publishes, or with an Idempotency-Key returns the first response for that key (scoped by API key). */
  publishOnce(
    request: PublishNotificationDto,
    apiKeyName: string,
    idempotencyKey?: string,
  ): Promise<IdempotentOutcome<PublishResult>> {
    if (idempotencyKey === undefined)
      return this.publish(request).then((response) => ({ response, replayed: false }));
    return this.idempotent.run(apiKeyName, idempotencyKey, request, () => this.publish(request));
  }

  async publish(request: PublishNotificationDto): Promise<PublishResult> {
    const channels = targetChannels(request);
    const id = randomUUID();
    const draft = {
      id,
      type: request.type,
      payload: request.payload ?? null,
      createdAt: new Date().toISOString(),
    };
    const deliveries = await this.broker.publish(draft, channels);
    return { id, deliveries };
  }
}

/** The target channels, each once: users, then topics, then broadcast. */
export function targetChannels(request: PublishNotificationDto): string[] {
  const channels = new Set<string>();
  for (const user of request.users ?? []) channels.add(userChannel(user));
  for (const topic of request.topics ?? []) channels.add(topicChannel(topic));
  if (request.broadcast === true) channels.add(BROADCAST);
  if (channels.size === 0) {
    throw new BadRequestException('no target: give at least one of users, topics, or broadcast: true');
  }
  return [...channels];
}
