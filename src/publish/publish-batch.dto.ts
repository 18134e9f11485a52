import type { BatchItem } from '../protocol/wire';
import { BATCH_BODY_SCHEMA, BATCH_ITEM_SCHEMA, BodySchema } from './publish-body.schema';
import { PublishNotificationDto } from './publish-notification.dto';

export { MAX_BATCH_ITEMS } from './publish-body.schema';

const BATCH_ITEM = new BodySchema<BatchItemDto>(BATCH_ITEM_SCHEMA);
const BATCH_BODY = new BodySchema<PublishBatchDto>(BATCH_BODY_SCHEMA);

/** One item of a batch: a publish body, with its own optional idempotency key. */
export class BatchItemDto extends PublishNotificationDto implements BatchItem {
  idempotencyKey?: string;

  static override validate(body: Record<string, unknown>): BatchItemDto | string[] {
    return BATCH_ITEM.check(body);
  }
}

/**
 * The batch envelope. Items are validated one by one (an invalid item gets an error result and does
 * not stop the others), so here they are only required to be objects.
 */
export class PublishBatchDto {
  notifications!: Record<string, unknown>[];

  static validate(body: Record<string, unknown>): PublishBatchDto | string[] {
    return BATCH_BODY.check(body);
  }
}
