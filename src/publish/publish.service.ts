import {
  BadRequestException,
  HttpException,
  Inject,
  Injectable,
  PayloadTooLargeException,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { EngineUnavailableError } from '../common/errors';
import { ENGINE_UNAVAILABLE_MESSAGE, RequestValidationPipe } from '../common/http-errors';
import { AppConfig } from '../config/app-config';
import { BatchItemDto } from './publish-batch.dto';
import type { Logger as PinoLogger } from 'pino';
import { Logs } from '../logging/logging.module';
import { kindOf, Metrics } from '../metrics/metrics';
import { Broker, Delivery } from '../broker/broker';
import { BROADCAST, topicChannel, userChannel } from '../common/channel';
import {
  IdempotentExecution,
  idempotentNotificationId,
  IdempotentOutcome,
} from '../idempotency/idempotent-execution';
import { checkOfflineFields, OfflineDelivery } from '../push/offline-delivery';
import { PublishNotificationDto } from './publish-notification.dto';

export interface PublishResult {
  id: string;
  deliveries: Delivery[];
}

/** The error of one batch item, in the shape of an HTTP error body. */
export interface ItemError {
  error: { statusCode: number; error: string; message: string };
}

export type BatchResult = PublishResult | ItemError;

/** Who asked: the API key's name (never the secret) and the HTTP request id, for scoping and logs. */
export interface PublishContext {
  apiKeyName: string;
  requestId?: string;
}

/** Publishes made inside the service (the dev demo page). */
const IN_PROCESS: PublishContext = { apiKeyName: 'in-process' };

/** Turns a publish request into channels and hands it to the engine. */
@Injectable()
export class PublishService {
  private readonly validation = new RequestValidationPipe();
  private readonly log: PinoLogger;

  constructor(
    @Inject(Broker) private readonly broker: Broker,
    @Inject(IdempotentExecution) private readonly idempotent: IdempotentExecution,
    @Inject(AppConfig) private readonly config: AppConfig,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(OfflineDelivery) private readonly offline: OfflineDelivery,
    @Inject(Logs) logs: Logs,
  ) {
    this.log = logs.for(PublishService.name);
  }

  /** Publishes, or with an Idempotency-Key returns the first response for that key (scoped by API key). */
  publishOnce(
    request: PublishNotificationDto,
    context: PublishContext,
    idempotencyKey?: string,
  ): Promise<IdempotentOutcome<PublishResult>> {
    if (idempotencyKey === undefined)
      return this.publishAll([request], context).then(([response]) => ({ response, replayed: false }));
    // Every attempt under one key publishes the same notification id, stored at most once per
    // channel: a retry after a partial failure (503) completes the publish without duplicates.
    return this.idempotent
      .run(context.apiKeyName, idempotencyKey, request, (fingerprint) =>
        this.publishAll([request], context, {
          id: idempotentNotificationId(context.apiKeyName, idempotencyKey, fingerprint),
        }).then(([result]) => result),
      )
      .then((outcome) => {
        if (outcome.replayed) {
          this.metrics.idempotentReplays.inc();
          this.log.info(
            { notificationId: outcome.response.id, apiKey: context.apiKeyName, requestId: context.requestId },
            'idempotent replay',
          );
        }
        return outcome;
      });
  }

  async publish(
    request: PublishNotificationDto,
    context: PublishContext = IN_PROCESS,
  ): Promise<PublishResult> {
    const [result] = await this.publishAll([request], context);
    return result;
  }

  /**
   * A batch: each item validated on its own (an invalid one gets an error result), items with an
   * idempotency key go through it one by one, all others are stored in one engine round trip.
   */
  async publishBatch(
    items: readonly Record<string, unknown>[],
    context: PublishContext,
    bodyBytes?: number,
  ): Promise<BatchResult[]> {
    // An item is never larger than the whole body: below the limit, no item needs measuring.
    const measure = bodyBytes === undefined || bodyBytes > this.config.maxPayloadBytes;
    const validated = items.map((item) => this.validateItem(item, measure));
    const results: BatchResult[] = new Array<BatchResult>(items.length);
    const plain: { index: number; request: PublishNotificationDto }[] = [];
    const keyed: Promise<void>[] = [];
    validated.forEach((item, index) => {
      if ('error' in item) results[index] = item;
      else if (item.idempotencyKey === undefined) plain.push({ index, request: item });
      else {
        const { idempotencyKey, ...request } = item;
        keyed.push(
          this.publishOnce(request, context, idempotencyKey).then(
            (outcome) => void (results[index] = outcome.response),
            (error: unknown) => void (results[index] = itemError(error)),
          ),
        );
      }
    });
    const stored = this.publishAll(
      plain.map(({ request }) => request),
      context,
    ).then(
      (published) => plain.forEach(({ index }, i) => (results[index] = published[i])),
      (error: unknown) => plain.forEach(({ index }) => (results[index] = itemError(error))),
    );
    await Promise.all([stored, ...keyed]);
    return results;
  }

  /** Stores the requests in one engine round trip; `retryable` (one request) fixes its id and dedupes per channel. */
  private async publishAll(
    requests: readonly PublishNotificationDto[],
    context: PublishContext,
    retryable?: { id: string },
  ): Promise<PublishResult[]> {
    if (requests.length === 0) return [];
    const createdAt = new Date().toISOString();
    const drafts = requests.map((request) => {
      checkOfflineFields(request);
      return {
        draft: {
          id: retryable?.id ?? randomUUID(),
          type: request.type,
          payload: request.payload ?? null,
          createdAt,
          ...(request.expiresAt === undefined
            ? {}
            : { expiresAt: new Date(request.expiresAt).toISOString() }),
        },
        channels: targetChannels(request),
        dedupeTtlSeconds: retryable ? this.config.idempotencyTtlSeconds : undefined,
      };
    });
    const started = performance.now();
    // Pushes are recorded before the notification is stored (an ack may follow its delivery at once)
    // and scheduled after: the 202 means both are in the engine.
    const pushes = await this.offline.record(drafts.map(({ draft }, i) => ({ request: requests[i], draft })));
    const deliveries = await this.broker.publishMany(drafts);
    await this.offline.schedule(pushes);
    this.metrics.publishDuration.observe((performance.now() - started) / 1000);
    return drafts.map(({ draft }, i) => {
      this.recordPublished(requests[i], draft.id, deliveries[i], context);
      return { id: draft.id, deliveries: deliveries[i] };
    });
  }

  private recordPublished(
    request: PublishNotificationDto,
    id: string,
    deliveries: Delivery[],
    context: PublishContext,
  ): void {
    for (const { channel } of deliveries) this.metrics.publishedOf[kindOf(channel)].inc();
    if (!this.log.isLevelEnabled('info')) return;
    this.log.info(
      {
        notificationId: id,
        requestId: context.requestId,
        apiKey: context.apiKeyName,
        type: request.type,
        users: request.users?.length ?? 0,
        topics: request.topics?.length ?? 0,
        broadcast: request.broadcast === true,
        channels: deliveries.length,
      },
      'notification published',
    );
  }

  /** Validated before measured: a valid item is nested boundedly deep, so JSON.stringify cannot overflow. */
  private validateItem(item: Record<string, unknown>, measure: boolean): BatchItemDto | ItemError {
    let dto: BatchItemDto;
    try {
      dto = this.validation.check(item, BatchItemDto);
      targetChannels(dto);
      checkOfflineFields(dto);
    } catch (error) {
      return itemError(error);
    }
    if (measure && Buffer.byteLength(JSON.stringify(item)) > this.config.maxPayloadBytes) {
      return itemError(
        new PayloadTooLargeException(
          `item is larger than MAX_PAYLOAD_BYTES (${this.config.maxPayloadBytes})`,
        ),
      );
    }
    return dto;
  }
}

/** An item's failure as the HTTP error it would have been on its own; unexpected ones are 500s. */
function itemError(error: unknown): ItemError {
  const status =
    error instanceof HttpException ? error.getStatus() : error instanceof EngineUnavailableError ? 503 : 500;
  const message =
    error instanceof HttpException
      ? error.message
      : error instanceof EngineUnavailableError
        ? ENGINE_UNAVAILABLE_MESSAGE
        : 'internal error';
  return { error: { statusCode: status, error: STATUS_CODES[status] ?? 'Error', message } };
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
