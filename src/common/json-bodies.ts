import { UnsupportedMediaTypeException } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The REST API is JSON only: a request body must be `application/json`, with at most a `charset=utf-8`
 * parameter (RFC 8259: JSON between systems is UTF-8). Anything else — a form, text, a missing
 * Content-Type, another charset — is refused with 415 before it is parsed. This replaces every parser
 * Fastify and Nest register by default (Nest's FastifyAdapter adds `application/x-www-form-urlencoded`
 * in `registerParserMiddleware`, which `createApp` turns off with `bodyParser: false`; Fastify itself
 * parses `text/plain`). Bodies are parsed by Fastify's own JSON parser (prototype poisoning refused),
 * within the route's body limit.
 */
export function acceptOnlyJsonBodies(fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers();
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const charset = charsetOf(request.headers['content-type']);
    if (charset !== undefined && charset !== 'utf-8') {
      done(
        new UnsupportedMediaTypeException(`a JSON body must be UTF-8 (got charset=${charset})`),
        undefined,
      );
      return;
    }
    void parseJson(request, body as string, done);
  });
  fastify.addContentTypeParser('*', (request, _payload, done) => {
    const type = request.headers['content-type'];
    done(
      new UnsupportedMediaTypeException(
        `the body must be application/json (got ${type ? JSON.stringify(type.slice(0, 100)) : 'no Content-Type'})`,
      ),
      undefined,
    );
  });
}

function charsetOf(contentType: string | undefined): string | undefined {
  const match = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType ?? '');
  return match?.[1].toLowerCase();
}

/**
 * Fastify answers some requests before any route or Nest filter runs (a path that is not valid
 * percent-encoded UTF-8, FST_ERR_BAD_URL): in the API's error shape too, without Fastify's extra `code`.
 */
export function answerFrameworkError(error: Error, _request: FastifyRequest, reply: FastifyReply): void {
  void reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: error.message });
}
