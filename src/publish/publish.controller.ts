import { Body, Controller, HttpCode, Inject, Post, UseGuards } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { ApiErrorResponses } from '../common/api-errors';
import { PublishNotificationDto } from './publish-notification.dto';
import { PublishResult, PublishService } from './publish.service';

@ApiTags('publish')
@ApiBearerAuth('apiKey')
@Controller('v1/notifications')
@UseGuards(ApiKeyGuard)
export class PublishController {
  constructor(@Inject(PublishService) private readonly publisher: PublishService) {}

  @Post()
  @HttpCode(202)
  @ApiAcceptedResponse({ description: 'stored in every target channel and on its way to every connection' })
  @ApiErrorResponses(400, 401, 413, 429, 503)
  publish(@Body() body: PublishNotificationDto): Promise<PublishResult> {
    return this.publisher.publish(body);
  }
}
