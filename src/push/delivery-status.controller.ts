import { Controller, Get, Inject, NotFoundException, Param } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiKeyWithScope } from '../auth/api-key.guard';
import { ApiErrorResponses } from '../common/api-errors';
import type { DeliveryStatusResponse } from '../protocol/wire';
import { isNotificationId } from './ack-ids';
import { PushLedger } from './push-ledger';

const iso = (ms: number | undefined): string | undefined =>
  ms === undefined ? undefined : new Date(ms).toISOString();

/** Where a notification published with `push` stands for each target user. */
@ApiTags('publish')
@Controller('v1/notifications')
@ApiKeyWithScope('read')
export class DeliveryStatusController {
  constructor(@Inject(PushLedger) private readonly ledger: PushLedger) {}

  @Get(':id/status')
  @ApiOkResponse({
    description:
      '`{id, users: [{userId, state, deliveredAt?, pushedAt?}]}`; state: pending, delivered, pushed, push_failed, expired, no_subscriptions',
  })
  @ApiErrorResponses(401, 403, 404, 503)
  async status(@Param('id') id: string): Promise<DeliveryStatusResponse> {
    const normalized = id.toLowerCase();
    const users = isNotificationId(normalized) ? await this.ledger.status(normalized) : undefined;
    if (!users)
      throw new NotFoundException('no notification published with push has this id (or it expired)');
    return {
      id: normalized,
      users: users
        .map(({ userId, record }) => {
          const deliveredAt = iso(record.deliveredAt);
          const pushedAt = iso(record.pushedAt);
          return {
            userId,
            state: record.state,
            ...(deliveredAt === undefined ? {} : { deliveredAt }),
            ...(pushedAt === undefined ? {} : { pushedAt }),
          };
        })
        .sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0)),
    };
  }
}
