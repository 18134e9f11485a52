import { Body, Controller, Headers, HttpCode, Inject, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBody, ApiHeader, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ApiKeyWithScope, type PublisherRequest } from '../auth/api-key.guard';
import { ApiErrorResponses } from '../common/api-errors';
import { PublishRateLimitGuard } from '../rate-limit/publish-rate-limit.guard';
import { PublishNotificationDto } from './publish-notification.dto';
import { PublishBatchDto } from './publish-batch.dto';
import { BATCH_BODY_DOCUMENT, PUBLISH_BODY_SCHEMA } from './publish-body.schema';
import { BatchResult, PublishContext, PublishResult, PublishService } from './publish.service';

@ApiTags('publish')
@Controller('v1/notifications')
// Guards run in the order applied (bottom-up): the key is authenticated before it is rate limited.
@UseGuards(PublishRateLimitGuard)
@ApiKeyWithScope('publish')
export class PublishController {
  constructor(@Inject(PublishService) private readonly publisher: PublishService) {}

  @Post()
  @HttpCode(202)
  @ApiBody({ schema: PUBLISH_BODY_SCHEMA })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      '1-200 chars; a retry with the same key (per API key) returns the first response and delivers nothing new',
  })
  @ApiAcceptedResponse({
    description:
      'stored in every target channel and on its way to every connection (`Idempotent-Replayed: true` on a replay)',
  })
  @ApiErrorResponses(400, 401, 403, 409, 413, 415, 422, 429, 503)
  async publish(
    @Body() body: PublishNotificationDto,
    @Req() request: PublisherRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<PublishResult> {
    const outcome = await this.publisher.publishOnce(body, contextOf(request), idempotencyKey);
    if (outcome.replayed) void reply.header('Idempotent-Replayed', 'true');
    return outcome.response;
  }

  @Post('batch')
  @HttpCode(202)
  @ApiBody({ schema: BATCH_BODY_DOCUMENT })
  @ApiAcceptedResponse({
    description:
      '`{results: [...]}`: per item, in order, the publish response or `{error: {statusCode, error, message}}`',
  })
  @ApiErrorResponses(400, 401, 403, 413, 415, 429)
  async publishBatch(
    @Body() body: PublishBatchDto,
    @Req() request: PublisherRequest,
  ): Promise<{ results: BatchResult[] }> {
    const length = Number(request.headers['content-length']);
    const results = await this.publisher.publishBatch(
      body.notifications,
      contextOf(request),
      Number.isFinite(length) ? length : undefined,
    );
    return { results };
  }
}

const contextOf = (request: PublisherRequest): PublishContext => ({
  apiKeyName: request.apiKeyName ?? '',
  requestId: request.id,
});
