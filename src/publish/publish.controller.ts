import { Body, Controller, HttpCode, Inject, Post, Req, UseGuards } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBody, ApiTags } from '@nestjs/swagger';
import { ApiKeyWithScope, type PublisherRequest } from '../auth/api-key.guard';
import { ApiErrorResponses } from '../common/api-errors';
import { PublishRateLimitGuard } from '../rate-limit/publish-rate-limit.guard';
import { PublishBatchDto } from './publish-batch.dto';
import { BATCH_BODY_DOCUMENT } from './publish-body.schema';
import { BatchResult, PublishContext, PublishService } from './publish.service';

/** The batch publish; the single one is served outside Nest (publish.route.ts). */
@ApiTags('publish')
@Controller('v1/notifications')
// Guards run in the order applied (bottom-up): the key is authenticated before it is rate limited.
@UseGuards(PublishRateLimitGuard)
@ApiKeyWithScope('publish')
export class PublishController {
  constructor(@Inject(PublishService) private readonly publisher: PublishService) {}

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
