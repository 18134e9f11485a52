import { BadRequestException, Controller, Get, Inject, Param, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ApiKeyWithScope } from '../auth/api-key.guard';
import { Broker } from '../broker/broker';
import { ApiErrorResponses } from '../common/api-errors';
import { parseChannel } from '../common/channel';

/** The most notifications one history page returns. */
export const MAX_HISTORY_PAGE = 1000;
const DEFAULT_HISTORY_PAGE = 100;

function nonNegativeInteger(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,15}$/.test(raw)) throw new BadRequestException(`${name} must be a non-negative integer`);
  return Number(raw);
}

@ApiTags('history')
@Controller('v1/channels')
@ApiKeyWithScope('read')
export class HistoryController {
  constructor(@Inject(Broker) private readonly broker: Broker) {}

  /**
   * A page of a channel's stored notifications after an offset, oldest first. To page through, pass
   * the last offset of one page as `after` of the next, until a page comes back short.
   */
  @Get(':channel/history')
  @ApiParam({
    name: 'channel',
    example: 'user:alice',
    description: 'user:<id>, topic:<name> or broadcast (URL-encoded)',
  })
  @ApiQuery({ name: 'after', required: false, description: 'return offsets greater than this (default 0)' })
  @ApiQuery({
    name: 'limit',
    required: false,
    description: `at most this many (1-${MAX_HISTORY_PAGE}, default ${DEFAULT_HISTORY_PAGE})`,
  })
  @ApiOkResponse({
    description:
      '`{channel, epoch, offset, notifications: [{id, channel, offset, epoch, type, payload, createdAt}]}`; `offset` is the newest',
  })
  @ApiErrorResponses(400, 401, 403, 503)
  async history(
    @Param('channel') channel: string,
    @Res() reply: FastifyReply,
    @Query('after') afterRaw?: string,
    @Query('limit') limitRaw?: string,
  ): Promise<void> {
    if (!parseChannel(channel)) {
      throw new BadRequestException(
        'channel must be user:<id>, topic:<name> ([A-Za-z0-9._:-], 1-200 chars) or broadcast',
      );
    }
    const after = nonNegativeInteger('after', afterRaw, 0);
    const limit = nonNegativeInteger('limit', limitRaw, DEFAULT_HISTORY_PAGE);
    if (limit < 1 || limit > MAX_HISTORY_PAGE)
      throw new BadRequestException(`limit must be 1-${MAX_HISTORY_PAGE}`);
    const page = await this.broker.history(channel, after, limit);
    // The stored data is already the notification JSON: it is concatenated, not parsed and re-serialized.
    const head = JSON.stringify({ channel, epoch: page.epoch, offset: page.offset }).slice(0, -1);
    const body = `${head},"notifications":[${page.messages.map((message) => message.data).join(',')}]}`;
    await reply.status(200).type('application/json; charset=utf-8').send(body);
  }
}
