import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsObject, IsOptional, IsString, Length } from 'class-validator';
import { PublishNotificationDto } from './publish-notification.dto';

/** The most notifications one batch request may carry. */
export const MAX_BATCH_ITEMS = 1000;

/** One item of a batch: a publish body, with its own optional idempotency key. */
export class BatchItemDto extends PublishNotificationDto {
  @ApiPropertyOptional({
    minLength: 1,
    maxLength: 200,
    description: 'like the Idempotency-Key header, for this item',
  })
  @IsOptional()
  @Length(1, 200)
  @IsString()
  idempotencyKey?: string;
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
