import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module';
import { Metrics } from './metrics/metrics';
import { serveApiDocs } from './docs-setup';
import { logRequests, Logs, NestLogger, requestIds } from './logging/logging.module';
import { RequestValidationPipe } from './common/http-errors';
import { AppConfig, ConfigError, loadConfig } from './config/app-config';
import { HandshakeGate } from './gateway/handshake';
import { HeraldWsAdapter } from './gateway/ws-adapter';
import { Lifecycle } from './lifecycle/lifecycle';
import { printBanner } from './lifecycle/banner';
import { RedisUnreachableError } from './broker/redis/redis-client';

async function bootstrap(): Promise<void> {
  const config = loadConfig(process.env);
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config),
    new FastifyAdapter({ bodyLimit: config.maxPayloadBytes, ...requestIds }),
    { bufferLogs: true, abortOnError: false },
  );
  const logs = app.get(Logs);
  app.useLogger(new NestLogger(logs));
  app.useGlobalPipes(new RequestValidationPipe());
  allowLargerBatchBodies(app);
  logRequests(app.getHttpAdapter().getInstance(), logs, app.get(Metrics));
  app.useWebSocketAdapter(new HeraldWsAdapter(app, app.get(HandshakeGate)));
  serveApiDocs(app);
  await app.listen(config.port, '0.0.0.0');
  new Logger('Herald').log(
    `listening on port ${config.port} (engine: ${config.redisUrl ? 'redis' : 'memory'})`,
  );
  stopOnSignals(app, config);
  if (!config.production) printBanner(config, await app.getUrl());
}

/** The batch endpoint takes up to 1,000 items (each at most MAX_PAYLOAD_BYTES): its body may be larger. */
export const BATCH_BODY_LIMIT_BYTES = 16 * 1024 * 1024;

function allowLargerBatchBodies(app: NestFastifyApplication): void {
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRoute', (route) => {
      if (route.url === '/v1/notifications/batch') route.bodyLimit = BATCH_BODY_LIMIT_BYTES;
    });
}

function stopOnSignals(app: NestFastifyApplication, config: AppConfig): void {
  const stop = (signal: string): void => {
    const forced = setTimeout(() => {
      process.stderr.write(
        `shutdown took longer than SHUTDOWN_TIMEOUT_MS=${config.shutdownTimeoutMs}; exiting\n`,
      );
      process.exit(1);
    }, config.shutdownTimeoutMs);
    forced.unref();
    process.stdout.write(`${signal}: draining\n`);
    app
      .get(Lifecycle)
      .drain()
      .then(() => app.close())
      .then(
        () => process.exit(0),
        (error: Error) => {
          process.stderr.write(`shutdown failed: ${error.message}\n`);
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

bootstrap().catch((error: Error) => {
  const known = error instanceof ConfigError || error instanceof RedisUnreachableError;
  process.stderr.write(`herald failed to start: ${known ? error.message : (error.stack ?? error.message)}\n`);
  process.exit(1);
});
