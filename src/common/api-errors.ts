import { applyDecorators, HttpStatus } from '@nestjs/common';
import { ApiResponse, type ResponsesObject } from '@nestjs/swagger';

const DESCRIPTIONS: Record<number, string> = {
  400: 'invalid request; the message names the field',
  401: 'missing or invalid API key',
  403: 'the API key lacks the scope this endpoint needs (`publish` or `read`); the message names it',
  404: 'not found',
  409: 'a request with the same Idempotency-Key is still in progress; retry later',
  413: 'body larger than MAX_PAYLOAD_BYTES',
  415: 'the body is not application/json (UTF-8)',
  422: 'Idempotency-Key reused with a different body',
  429: 'rate limited; see Retry-After',
  503: 'engine (Redis) unavailable; retry after Retry-After (with the same Idempotency-Key, a retry never stores twice)',
};

const errorBodySchema = (status: HttpStatus) => ({
  type: 'object',
  properties: {
    statusCode: { type: 'integer', example: status },
    error: { type: 'string' },
    message: { type: 'string' },
  },
});

/** Documents error statuses; every error body is `{statusCode, error, message}`. */
export function ApiErrorResponses(...statuses: HttpStatus[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({ status, description: DESCRIPTIONS[status], schema: errorBodySchema(status) }),
    ),
  );
}

/** The same statuses as OpenAPI response objects, for a route served outside Nest. */
export function errorResponses(...statuses: HttpStatus[]): ResponsesObject {
  return Object.fromEntries(
    statuses.map((status) => [
      String(status),
      {
        description: DESCRIPTIONS[status],
        content: { 'application/json': { schema: errorBodySchema(status) } },
      },
    ]),
  );
}
