import type { OperationObject } from '@nestjs/swagger';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKeyGuard } from '../auth/api-key.guard';
import { errorResponses } from '../common/api-errors';
import { answerError, RequestValidationPipe } from '../common/http-errors';
import type { PublishRateLimitGuard } from '../rate-limit/publish-rate-limit.guard';
import { PUBLISH_BODY_SCHEMA } from './publish-body.schema';
import { PublishNotificationDto } from './publish-notification.dto';
import type { PublishService } from './publish.service';

export const PUBLISH_PATH = '/v1/notifications';

export interface PublishRouteDeps {
  keys: ApiKeyGuard;
  rateLimit: PublishRateLimitGuard;
  publisher: PublishService;
}

/**
 * `POST /v1/notifications` as a plain Fastify route, outside Nest: on the publishing replica Nest
 * cost ~90 k of Herald's ~388 k instructions per publish (bench/RESULTS.md, "P1 instruction counts":
 * its router, `Reflect.getMetadata` on every request, a guard and a pipe per parameter, its reply
 * path). The steps and answers are the Nest route's, with the same parts: the API key was checked
 * before the body was read (authenticateBeforeBody's onRequest hook) and ApiKeyGuard checks the
 * `publish` scope; PublishRateLimitGuard spends the key's budget (shared with the batch route);
 * RequestValidationPipe checks the body; errors leave as HttpErrorFilter's. The request log, metrics,
 * X-Request-Id, body limit and 415 are Fastify hooks and options, as for every route.
 */
export function registerPublishRoute(fastify: FastifyInstance, deps: PublishRouteDeps): void {
  const validation = new RequestValidationPipe();
  const publish = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const key = deps.keys.authorize(request.headers.authorization, 'publish');
    if (!deps.rateLimit.off) await deps.rateLimit.admit(key.name, reply);
    const body = validation.check(request.body, PublishNotificationDto);
    const idempotencyKey = request.headers['idempotency-key'];
    const outcome = await deps.publisher.publishOnce(
      body,
      { apiKeyName: key.name, requestId: request.id },
      typeof idempotencyKey === 'string' ? idempotencyKey : undefined,
    );
    if (outcome.replayed) void reply.header('Idempotent-Replayed', 'true');
    void reply.code(202).send(outcome.response);
  };
  fastify.post(PUBLISH_PATH, (request, reply) =>
    publish(request, reply).catch((error: unknown) => answerError(reply, error)),
  );
}

/**
 * The route's OpenAPI operation, as Nest's decorators described it (its operationId kept for
 * generated clients), less the `idempotency-key` header Nest inferred from `@Headers()` as required.
 */
export const PUBLISH_OPERATION: OperationObject = {
  operationId: 'PublishController_publish',
  parameters: [
    {
      name: 'Idempotency-Key',
      in: 'header',
      description:
        '1-200 chars; a retry with the same key (per API key) returns the first response and delivers nothing new',
      required: false,
      schema: { type: 'string' },
    },
  ],
  requestBody: { required: true, content: { 'application/json': { schema: PUBLISH_BODY_SCHEMA } } },
  responses: {
    '202': {
      description:
        'stored in every target channel and on its way to every connection (`Idempotent-Replayed: true` on a replay)',
    },
    ...errorResponses(400, 401, 403, 409, 413, 415, 422, 429, 503),
  },
  security: [{ apiKey: [] }],
  tags: ['publish'],
};
