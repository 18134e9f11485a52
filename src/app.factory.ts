import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module';
import { ApiKeyGuard } from './auth/api-key.guard';
import { authenticateBeforeBody } from './auth/authenticate-before-body';
import { RequestValidationPipe } from './common/http-errors';
import { acceptOnlyJsonBodies, answerFrameworkError } from './common/json-bodies';
import { AppConfig } from './config/app-config';
import { serveApiDocs } from './docs-setup';
import { logRequests, Logs, NestLogger, requestIds } from './logging/logging.module';
import { Metrics } from './metrics/metrics';
import { registerPublishRoute } from './publish/publish.route';
import { PublishService } from './publish/publish.service';
import { PublishRateLimitGuard } from './rate-limit/publish-rate-limit.guard';

/** The batch endpoint takes up to 1,000 items (each at most MAX_PAYLOAD_BYTES): its body may be larger. */
export const BATCH_BODY_LIMIT_BYTES = 16 * 1024 * 1024;

/**
 * The whole service as one Nest application, configured but not listening: `main.ts` listens on
 * PORT; tests of the medium tier boot it in-process the same way.
 */
export async function createApp(config: AppConfig): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config),
    new FastifyAdapter({
      bodyLimit: config.maxPayloadBytes,
      frameworkErrors: answerFrameworkError,
      ...requestIds,
    }),
    // Body parsers are acceptOnlyJsonBodies's (Nest's would add a form parser).
    { bufferLogs: true, abortOnError: false, bodyParser: false },
  );
  const fastify = app.getHttpAdapter().getInstance();
  acceptOnlyJsonBodies(fastify);
  const logs = app.get(Logs);
  app.useLogger(new NestLogger(logs));
  app.useGlobalPipes(new RequestValidationPipe());
  allowLargerBatchBodies(app);
  authenticateBeforeBody(fastify, app.get(ApiKeyGuard));
  logRequests(fastify, logs, app.get(Metrics));
  // After the hooks above (authenticateBeforeBody's is added per route, when it is registered).
  registerPublishRoute(fastify, {
    keys: app.get(ApiKeyGuard),
    rateLimit: app.get(PublishRateLimitGuard),
    publisher: app.get(PublishService),
  });
  serveApiDocs(app);
  return app;
}

function allowLargerBatchBodies(app: NestFastifyApplication): void {
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRoute', (route) => {
      if (route.url === '/v1/notifications/batch') route.bodyLimit = BATCH_BODY_LIMIT_BYTES;
    });
}
