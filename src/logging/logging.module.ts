import { DynamicModule, Module, RequestMethod } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { LoggerModule } from 'nestjs-pino';
import { AppConfig } from '../config/app-config';

/** Query parameters whose values never reach a log line. */
const SECRET_PARAMS = /([?&](?:access_token|token|api_key)=)[^&]*/gi;

/** pino-pretty is a dev dependency: pretty logs in development when it is installed, JSON otherwise. */
function prettyTransport(
  config: AppConfig,
): { target: string; options: Record<string, unknown> } | undefined {
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
 * Structured logs (pino): JSON in production, pretty in development; level from LOG_LEVEL; one line
 * per HTTP request with its request id (see {@link requestIds}). Headers
 * that carry credentials and token query parameters are redacted: no token or API key is logged.
 */
/**
 * Fastify options that give every request an id: the caller's `X-Request-Id`, else a new UUID; echoed in the response's `X-Request-Id` (see main.ts) and carried by its log lines.
 */
export const requestIds = {
  requestIdHeader: 'x-request-id',
  genReqId: (): string => randomUUID(),
};

@Module({})
export class LoggingModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: {
            level: config.logLevel,
            transport: prettyTransport(config),
            redact: {
              paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["idempotency-key"]'],
              censor: '[redacted]',
            },
            serializers: {
              req: (request: {
                id: string;
                method: string;
                url: string;
                headers: Record<string, unknown>;
              }) => ({
                id: request.id,
                method: request.method,
                url: request.url.replace(SECRET_PARAMS, '$1[redacted]'),
              }),
            },
            customLogLevel: (_request, response, error) =>
              error || response.statusCode >= 500 ? 'error' : response.statusCode >= 400 ? 'warn' : 'info',
          },
          // Probes and scrapes, every few seconds from every replica: not worth a line each.
          exclude: [
            { method: RequestMethod.GET, path: 'health/live' },
            { method: RequestMethod.GET, path: 'health/ready' },
            { method: RequestMethod.GET, path: 'metrics' },
          ],
        }),
      ],
    };
  }
}
