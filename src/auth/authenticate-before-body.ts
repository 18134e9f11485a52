import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { ApiKeyGuard, MISSING_API_KEY_MESSAGE } from './api-key.guard';

/** The publisher routes that take a body (the batch one up to 16 MiB). */
const PUBLISHER_BODY_ROUTES: ReadonlySet<string> = new Set(['/v1/notifications', '/v1/notifications/batch']);

/**
 * Fastify reads and parses a body before any Nest guard runs: without this, anyone could make a
 * replica parse a 16 MiB batch body (seconds of event-loop time for one of tiny arrays) before the
 * 401. Here the API key is checked on the request line and headers, before the body is read; the
 * guard then checks the scope (its cache makes the second check a lookup).
 */
export function authenticateBeforeBody(fastify: FastifyInstance, guard: ApiKeyGuard): void {
  const early: onRequestHookHandler = (request, reply, done) => {
    if (guard.authenticate(request.headers.authorization)) {
      done();
      return;
    }
    void reply.code(401).send({ statusCode: 401, error: 'Unauthorized', message: MISSING_API_KEY_MESSAGE });
  };
  fastify.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.includes('POST') || !PUBLISHER_BODY_ROUTES.has(route.url)) return;
    const existing = route.onRequest === undefined ? [] : [route.onRequest].flat();
    route.onRequest = [...existing, early];
  });
}
