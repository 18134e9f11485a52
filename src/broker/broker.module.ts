import { Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { Broker } from './broker';
import { MemoryBroker } from './memory.broker';
import { connectOrFail, createCommandClient, createSubscriberClient } from './redis/redis-client';
import { RedisBroker } from './redis/redis.broker';

/** Decides the engine once, from REDIS_URL: the rest of the service only knows {@link Broker}. */
async function createBroker(config: AppConfig): Promise<Broker> {
  const options = { historySize: config.historySize, historyTtlSeconds: config.historyTtlSeconds };
  if (!config.redisUrl) return new MemoryBroker(options);
  const logger = new Logger(RedisBroker.name);
  const commands = createCommandClient(config.redisUrl, logger);
  const subscriber = createSubscriberClient(config.redisUrl, logger);
  await Promise.all([connectOrFail(commands, config.redisUrl), connectOrFail(subscriber, config.redisUrl)]);
  const broker = new RedisBroker(commands, subscriber, options);
  await broker.start();
  return broker;
}

@Global()
@Module({
  providers: [{ provide: Broker, inject: [AppConfig], useFactory: createBroker }],
  exports: [Broker],
})
export class BrokerModule implements OnApplicationShutdown {
  constructor(@Inject(Broker) private readonly broker: Broker) {}

  async onApplicationShutdown(): Promise<void> {
    await this.broker.close();
  }
}
