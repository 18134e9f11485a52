import {
  ArgumentMetadata,
  ArgumentsHost,
  BadRequestException,
  Catch,
  ExceptionFilter,
  HttpException,
  Logger,
  PipeTransform,
} from '@nestjs/common';
import { validateSync, ValidationError, type ValidatorOptions } from 'class-validator';
import type { FastifyReply } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { EngineUnavailableError } from './errors';

/**
 * A failed publish may have stored some of its channels before the engine failed (commands already
 * sent): a retry with the same Idempotency-Key completes it without storing anything twice.
 */
export const ENGINE_UNAVAILABLE_MESSAGE =
  'engine unavailable: retry; with the same Idempotency-Key a retry never stores a notification twice';

/** Seconds a publisher should wait after a 503 before retrying. */
export const ENGINE_RETRY_AFTER_SECONDS = 1;

/**
 * The one exception filter: every HTTP error leaves as `{statusCode, error, message}` (message a
 * string) — HttpExceptions with their status, including those Fastify raises before a route runs
 * (body over MAX_PAYLOAD_BYTES → 413, malformed JSON → 400, not JSON → 415); engine outages as 503 with
 * Retry-After (the publisher retries, with its Idempotency-Key); and anything nobody foresaw as a 500
 * in the same shape, logged with its stack (Nest's default answer has no `error` field).
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    answerError(host.switchToHttp().getResponse<FastifyReply>(), exception);
  }
}

const logger = new Logger('HttpErrorFilter');

/** The filter's answer, also given by the routes served outside Nest (publish.route.ts). */
export function answerError(reply: FastifyReply, exception: unknown): void {
  if (exception instanceof EngineUnavailableError) {
    void reply.status(503).header('Retry-After', String(ENGINE_RETRY_AFTER_SECONDS));
    send(reply, 503, ENGINE_UNAVAILABLE_MESSAGE);
    return;
  }
  if (exception instanceof HttpException) {
    send(reply, exception.getStatus(), messageOf(exception));
    return;
  }
  const error = exception instanceof Error ? exception : new Error(String(exception));
  logger.error(`unexpected error: ${error.message}`, error.stack);
  send(reply, 500, 'internal error');
}

function send(reply: FastifyReply, statusCode: number, message: string): void {
  void reply.status(statusCode).send({ statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message });
}

function messageOf(exception: HttpException): string {
  const response = exception.getResponse();
  const raw = typeof response === 'string' ? response : (response as { message?: unknown }).message;
  return Array.isArray(raw) ? raw.join('; ') : typeof raw === 'string' ? raw : exception.message;
}

function flatten(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) =>
      message.startsWith(error.property) ? `${parent ? `${parent}.` : ''}${message}` : `${path}: ${message}`,
    );
    return own.concat(flatten(error.children ?? [], path));
  });
}

const VALIDATION: ValidatorOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  stopAtFirstError: true,
};

const PLAIN_TYPES: unknown[] = [String, Number, Boolean, Array, Object];

/**
 * A DTO class on a hot path checks bodies itself (see PublishNotificationDto): the body as the DTO,
 * or its problems.
 */
interface SelfValidating<T> {
  validate(body: Record<string, unknown>): T | string[];
}

const selfValidating = <T>(dto: object): dto is SelfValidating<T> =>
  typeof (dto as Partial<SelfValidating<T>>).validate === 'function';

/**
 * Request bodies are checked against their DTO class: unknown fields refused, one message string
 * naming every bad field. Most DTOs are checked by their class-validator decorators; unlike Nest's
 * ValidationPipe this does not run class-transformer: the DTOs are flat (payloads are any JSON, batch
 * items are checked one by one), so the parsed body only needs the DTO's prototype.
 */
export class RequestValidationPipe implements PipeTransform {
  transform(value: unknown, { metatype }: ArgumentMetadata): unknown {
    if (!metatype || PLAIN_TYPES.includes(metatype)) return value;
    return this.check(value, metatype as new () => object);
  }

  /** The value as an instance of the DTO class, or a BadRequestException naming every bad field. */
  check<T extends object>(value: unknown, dto: new () => T): T {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new BadRequestException('the body must be a JSON object');
    }
    if (selfValidating<T>(dto)) {
      const checked = dto.validate(value as Record<string, unknown>);
      if (Array.isArray(checked)) throw new BadRequestException(checked.join('; '));
      return checked;
    }
    const entity = Object.create(dto.prototype as object) as Record<string, unknown>;
    for (const [key, field] of Object.entries(value)) {
      if (key !== '__proto__') entity[key] = field;
    }
    // Every constraint of the DTOs is synchronous: no promise per request (or per batch item).
    const errors = validateSync(entity, VALIDATION);
    if (errors.length > 0) throw new BadRequestException(flatten(errors).join('; '));
    return entity as T;
  }
}
