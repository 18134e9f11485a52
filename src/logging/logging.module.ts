import { Global, LoggerService, Module } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import type { Counter } from 'prom-client';
import { randomUUID } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { redactUrl } from '../auth/credentials';
import { AppConfig } from '../config/app-config';
import { Metrics } from '../metrics/metrics';

/** Probes and scrapes, every few seconds from every replica: not worth a line each. */
const QUIET_URLS = new Set(['/health/live', '/health/ready', '/metrics']);

/** pino-pretty is a dev dependency: pretty logs in development when it is installed, JSON otherwise. */
function prettyTransport(config: AppConfig): pino.TransportSingleOptions | undefined {
  if (config.production) return undefined;
  try {
    require.resolve('pino-pretty');
  } catch {
    return undefined;
  }
  return {
    target: 'pino-pretty',
    options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
  };
}

/**
 * The service's one pino logger: JSON lines in production, pretty in development, level from
 * LOG_LEVEL. Components log structured fields through `Logs.for(<context>)`; Nest's own messages
 * go through {@link NestLogger}. Credentials never reach it: no header is logged, and URLs have
 * token query parameters redacted by their decoded names ({@link redactUrl}).
 */
export class Logs {
  readonly root: Logger;

  constructor(config: AppConfig) {
    this.root = pino({ level: config.logLevel, transport: prettyTransport(config) });
  }

  for(context: string): Logger {
    return this.root.child({ context });
  }
}

/** Nest's LoggerService over pino (`Logger` instances everywhere in the code write through it). */
export class NestLogger implements LoggerService {
  constructor(private readonly logs: Logs) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  /** Nest passes the context last, and for errors a stack before it. */
  private write(level: pino.Level, message: unknown, params: unknown[]): void {
    const context = typeof params.at(-1) === 'string' ? (params.at(-1) as string) : undefined;
    const stack =
      level === 'error' && typeof params[0] === 'string' && params.length > 1 ? params[0] : undefined;
    const fields = { context, ...(stack ? { stack } : {}) };
    if (message instanceof Error) this.logs.root[level]({ ...fields, err: message }, message.message);
    else if (typeof message === 'object' && message !== null)
      this.logs.root[level]({ ...fields, ...message });
    else this.logs.root[level](fields, String(message));
  }
}

/**
 * Fastify options that give every request an id: the caller's `X-Request-Id`, else a new UUID; it is
 * echoed in the response and carried by the request's log line.
 */
export const requestIds = {
  requestIdHeader: 'x-request-id',
  genReqId: (): string => randomUUID(),
};

/**
 * One line per HTTP request when it completes (id, method, path with tokens redacted, status, time),
 * and the request counted by route and status.
 */
export function logRequests(fastify: FastifyInstance, logs: Logs, metrics: Metrics): void {
  const log = logs.for('http');
  // Counter children by "method route status", labelled once each.
  const counted = new Map<string, Counter.Internal>();
  const countOf = (method: string, route: string, status: number) => {
    const key = `${method} ${route} ${status}`;
    let counter = counted.get(key);
    if (!counter) {
      counter = metrics.httpRequests.labels(method, route, String(status));
      counted.set(key, counter);
    }
    return counter;
  };
  // Callback hooks, not async ones: no promise per request.
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('X-Request-Id', request.id);
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    done();
    countOf(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode).inc();
    if (QUIET_URLS.has(request.url)) return;
    const level = reply.statusCode >= 500 ? 'error' : reply.statusCode >= 400 ? 'warn' : 'info';
    if (!log.isLevelEnabled(level)) return;
    log[level](
      {
        requestId: request.id,
        method: request.method,
        url: redactUrl(request.url),
        statusCode: reply.statusCode,
        responseTimeMs: Math.round(reply.elapsedTime * 10) / 10,
      },
      'request completed',
    );
  });
}

@Global()
@Module({
  providers: [{ provide: Logs, inject: [AppConfig], useFactory: (config: AppConfig) => new Logs(config) }],
  exports: [Logs],
})
export class LoggingModule {}
