import {
  BadRequestException,
  Body,
  CanActivate,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Inject,
  Injectable,
  NotFoundException,
  Param,
  Post,
  Res,
  UnprocessableEntityException,
  UseGuards,
} from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ApiKeyWithScope } from '../auth/api-key.guard';
import { ClientRequestAuth } from '../auth/client-request';
import { ApiErrorResponses } from '../common/api-errors';
import { isUserId } from '../common/channel';
import { AppConfig, type VapidKeys } from '../config/app-config';
import type { PushSubscriptionCreated, PushSubscriptionList, VapidPublicKeyResponse } from '../protocol/wire';
import { PushSubscriptionDto } from './push-bodies';
import { endpointProblem } from './push-endpoint';
import { PushSubscriptions } from './push-subscriptions';

/** With Web Push off, every push route answers 404 — before its token, key or body is looked at. */
@Injectable()
export class WebPushOn implements CanActivate {
  constructor(@Inject(AppConfig) private readonly config: AppConfig) {}

  canActivate(): boolean {
    if (!this.config.vapid)
      throw new NotFoundException(
        'Web Push is off (VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY and VAPID_SUBJECT are not set)',
      );
    return true;
  }
}

const SUBSCRIPTION_BODY = {
  type: 'object',
  required: ['endpoint', 'keys'],
  properties: {
    endpoint: { type: 'string', example: 'https://updates.push.services.mozilla.com/wpush/v2/gAAAA…' },
    keys: {
      type: 'object',
      required: ['p256dh', 'auth'],
      properties: { p256dh: { type: 'string' }, auth: { type: 'string' } },
    },
    expirationTime: { type: 'integer', nullable: true },
  },
};

/** Browsers' Web Push subscriptions: the VAPID key to subscribe with, registration with a client token. */
@ApiTags('push')
@Controller('v1/push')
@UseGuards(WebPushOn)
export class PushController {
  constructor(
    @Inject(PushSubscriptions) private readonly subscriptions: PushSubscriptions,
    @Inject(ClientRequestAuth) private readonly auth: ClientRequestAuth,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  @Get('vapid-public-key')
  @ApiOkResponse({ description: '`{publicKey}`: the applicationServerKey for pushManager.subscribe()' })
  @ApiErrorResponses(404)
  vapidPublicKey(): VapidPublicKeyResponse {
    return { publicKey: (this.config.vapid as VapidKeys).publicKey };
  }

  @Post('subscriptions')
  @ApiBearerAuth('clientToken')
  @ApiBody({ schema: SUBSCRIPTION_BODY })
  @ApiResponse({ status: 201, description: '`{id}`: registered' })
  @ApiResponse({ status: 200, description: '`{id}`: this user had the endpoint already (same id)' })
  @ApiResponse({ status: 422, description: 'endpoint not allowed (not https, or a private address)' })
  @ApiErrorResponses(400, 401, 404, 415, 503)
  async register(
    @Body() body: PushSubscriptionDto,
    @Headers('authorization') authorization: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<PushSubscriptionCreated> {
    const identity = await this.auth.identify(authorization);
    const problem = endpointProblem(body.endpoint, this.config.pushAllowPrivateEndpoints);
    if (problem) throw new UnprocessableEntityException(problem);
    const registration = await this.subscriptions.register(identity.userId, body);
    void reply.status(registration.created ? 201 : 200);
    return { id: registration.id };
  }

  @Delete('subscriptions/:id')
  @HttpCode(204)
  @ApiBearerAuth('clientToken')
  @ApiResponse({ status: 204, description: 'deleted' })
  @ApiErrorResponses(401, 404, 503)
  async remove(
    @Param('id') id: string,
    @Headers('authorization') authorization: string | undefined,
  ): Promise<void> {
    const identity = await this.auth.identify(authorization);
    if (!(await this.subscriptions.remove(identity.userId, id)))
      throw new NotFoundException('you have no push subscription with this id');
  }
}

/** A user's subscriptions, for publishers (`read`): where a push would go, without endpoints or keys. */
@ApiTags('push')
@Controller('v1/users')
// Guards run bottom-up: Web Push off answers 404 before the key is checked.
@ApiKeyWithScope('read')
@UseGuards(WebPushOn)
export class PushSubscriptionListController {
  constructor(@Inject(PushSubscriptions) private readonly subscriptions: PushSubscriptions) {}

  @Get(':userId/push-subscriptions')
  @ApiOkResponse({
    description: '`{userId, subscriptions: [{id, origin, createdAt, lastPushedAt}]}` (endpoint origins only)',
  })
  @ApiErrorResponses(400, 401, 403, 404, 503)
  async list(@Param('userId') userId: string): Promise<PushSubscriptionList> {
    if (!isUserId(userId))
      throw new BadRequestException(
        'userId must be 1-200 characters of well-formed Unicode without control characters',
      );
    const subscriptions = await this.subscriptions.list(userId);
    return {
      userId,
      subscriptions: subscriptions.map((subscription) => ({
        id: subscription.id,
        origin: new URL(subscription.endpoint).origin,
        createdAt: new Date(subscription.createdAt).toISOString(),
        lastPushedAt:
          subscription.lastPushedAt === null ? null : new Date(subscription.lastPushedAt).toISOString(),
      })),
    };
  }
}
