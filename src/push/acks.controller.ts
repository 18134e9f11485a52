import { Body, Controller, Headers, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ClientRequestAuth } from '../auth/client-request';
import { ApiErrorResponses } from '../common/api-errors';
import { Acknowledgements } from './acknowledgements';
import { MAX_ACK_IDS } from './ack-ids';
import { AckBodyDto } from './push-bodies';

/** `POST /v1/acks`: the `ack` frame for clients without a WebSocket (SSE, plain HTTP). */
@ApiTags('acks')
@Controller('v1/acks')
export class AcksController {
  constructor(
    @Inject(Acknowledgements) private readonly acknowledgements: Acknowledgements,
    @Inject(ClientRequestAuth) private readonly auth: ClientRequestAuth,
  ) {}

  @Post()
  @HttpCode(204)
  @ApiBearerAuth('clientToken')
  @ApiBody({
    schema: {
      type: 'object',
      required: ['ids'],
      properties: {
        ids: { type: 'array', minItems: 1, maxItems: MAX_ACK_IDS, items: { type: 'string', format: 'uuid' } },
      },
    },
  })
  @ApiResponse({ status: 204, description: 'recorded: the notifications are delivered for this user' })
  @ApiErrorResponses(400, 401, 415, 503)
  async acknowledge(
    @Body() body: AckBodyDto,
    @Headers('authorization') authorization: string | undefined,
  ): Promise<void> {
    const identity = await this.auth.identify(authorization);
    await this.acknowledgements.acknowledge(identity.userId, body.ids);
  }
}
