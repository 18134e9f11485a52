import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { isWellFormed } from '../common/channel';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsObject } from 'class-validator';
import {
  checkPublish,
  isAbsent,
  lengthProblem,
  PUBLISH_FIELDS,
  PublishNotificationDto,
} from './publish-notification.dto';

/** The most notifications one batch request may carry. */
export const MAX_BATCH_ITEMS = 1000;

const MAX_IDEMPOTENCY_KEY_LENGTH = 200;
const BATCH_ITEM_FIELDS: ReadonlySet<string> = new Set([...PUBLISH_FIELDS, 'idempotencyKey']);

/** One item of a batch: a publish body, with its own optional idempotency key. */
export class BatchItemDto extends PublishNotificationDto {
  @ApiPropertyOptional({
    minLength: 1,
    maxLength: MAX_IDEMPOTENCY_KEY_LENGTH,
    description: 'like the Idempotency-Key header, for this item',
  })
  idempotencyKey?: string;

  static override validate(body: Record<string, unknown>): BatchItemDto | string[] {
    const problems = checkPublish(body, BATCH_ITEM_FIELDS);
    const key = body.idempotencyKey;
    const keyProblem = isAbsent(key)
      ? undefined
      : (lengthProblem('idempotencyKey', key, MAX_IDEMPOTENCY_KEY_LENGTH) ??
        (isWellFormed(key as string)
          ? undefined
          : 'idempotencyKey must be well-formed Unicode (no lone surrogate)'));
    if (keyProblem) problems.push(keyProblem);
    return problems.length > 0 ? problems : (body as unknown as BatchItemDto);
  }
}

/**
 * The batch envelope. Items are validated one by one (an invalid item gets an error result and does
 * not stop the others), so here they are only required to be objects.
 */
export class PublishBatchDto {
  @ApiProperty({ type: [BatchItemDto], minItems: 1, maxItems: MAX_BATCH_ITEMS })
  @IsObject({ each: true, message: 'each of notifications must be an object' })
  @ArrayMaxSize(MAX_BATCH_ITEMS)
  @ArrayMinSize(1)
  @IsArray()
  notifications!: Record<string, unknown>[];
}
