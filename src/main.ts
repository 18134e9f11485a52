import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from './app.factory';
import { describeTopology } from './config/redis-topology';
import { AppConfig, ConfigError, loadConfig } from './config/app-config';
import { Lifecycle } from './lifecycle/lifecycle';
import { printBanner } from './lifecycle/banner';
import { RedisUnreachableError } from './broker/redis/redis-client';

async function bootstrap(): Promise<void> {
  const config = loadConfig(process.env);
  const app = await createApp(config);
  await app.listen(config.port, '0.0.0.0');
  new Logger('Herald').log(`listening on port ${config.port} (engine: ${describeTopology(config.redis)})`);
  stopOnSignals(app, config);
  if (!config.production) printBanner(config, await app.getUrl());
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
