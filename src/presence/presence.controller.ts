import { BadRequestException, Controller, Get, Inject, Param } from '@nestjs/common';
import { ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import { ApiKeyWithScope } from '../auth/api-key.guard';
import { ApiErrorResponses } from '../common/api-errors';
import { isUserId } from '../common/channel';
import { PresenceRegistry } from './presence.registry';

export class PresenceResponse {
  @ApiProperty({ example: 'alice' })
  userId!: string;

  @ApiProperty({ example: true })
  online!: boolean;

  @ApiProperty({ example: 2, description: 'live connections across the cluster' })
  connections!: number;
}

@ApiTags('presence')
@Controller('v1/presence')
@ApiKeyWithScope('read')
export class PresenceController {
  constructor(@Inject(PresenceRegistry) private readonly presence: PresenceRegistry) {}

  /** Cluster-wide, from Redis: no replica is asked. A dead replica's connections stop counting within 2 heartbeats. */
  @Get(':userId')
  @ApiOkResponse({ type: PresenceResponse, description: 'live connections of the user across the cluster' })
  @ApiErrorResponses(400, 401, 403, 503)
  async get(@Param('userId') userId: string): Promise<PresenceResponse> {
    if (!isUserId(userId))
      throw new BadRequestException(
        'userId must be 1-200 characters of well-formed Unicode without control characters',
      );
    const connections = await this.presence.count(userId);
    return { userId, online: connections > 0, connections };
  }
}
