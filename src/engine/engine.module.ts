import { Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { Broker } from '../broker/broker';
import { MemoryBroker } from '../broker/memory.broker';
import { connectOrFail, createCommandClient, createSubscriberClient } from '../broker/redis/redis-client';
import { RedisBroker } from '../broker/redis/redis.broker';
import { AppConfig } from '../config/app-config';
import { Metrics } from '../metrics/metrics';
import { IdempotencyStore } from '../idempotency/idempotency.store';
import { MemoryIdempotencyStore } from '../idempotency/memory-idempotency.store';
import { RedisIdempotencyStore } from '../idempotency/redis-idempotency.store';
import { MemoryPresenceRegistry } from '../presence/memory-presence.registry';
import { PresenceRegistry } from '../presence/presence.registry';
import { RedisPresenceRegistry } from '../presence/redis-presence.registry';
import { MemoryPushLedger } from '../push/memory-push-ledger';
import { MemoryPushSubscriptionStore } from '../push/memory-push-subscription.store';
import { PushLedger } from '../push/push-ledger';
import { PushSubscriptionStore } from '../push/push-subscription.store';
import { RedisPushLedger } from '../push/redis-push-ledger';
import { RedisPushSubscriptionStore } from '../push/redis-push-subscription.store';
import { MemoryThrottlerStorage } from '../rate-limit/memory-throttler.storage';
import { RedisThrottlerStorage } from '../rate-limit/redis-throttler.storage';
import type { ThrottlerStorage } from '@nestjs/throttler';

/** Everything that lives in the engine (Redis, or this process for the embedded default). */
export interface Engine {
  broker: Broker;
  idempotency: IdempotencyStore;
  presence: PresenceRegistry;
  rateLimits: ThrottlerStorage;
  pushSubscriptions: PushSubscriptionStore;
  pushLedger: PushLedger;
  close(): Promise<void>;
}

/**
 * Decides the engine once, from REDIS_URL; the rest of the service only knows the abstractions.
 * An unreachable REDIS_URL stops start-up with a message naming it.
 */
async function createEngine(config: AppConfig, metrics: Metrics): Promise<Engine> {
  const options = { historySize: config.historySize, historyTtlSeconds: config.historyTtlSeconds };
  if (!config.redisUrl) {
    const broker = new MemoryBroker(options);
    return {
      broker,
      idempotency: new MemoryIdempotencyStore(),
      presence: new MemoryPresenceRegistry(),
      rateLimits: new MemoryThrottlerStorage(),
      pushSubscriptions: new MemoryPushSubscriptionStore(),
      pushLedger: new MemoryPushLedger(),
      close: () => broker.close(),
    };
  }
  const logger = new Logger('Redis');
  const commands = createCommandClient(config.redisUrl, logger, () =>
    metrics.redisReconnects.inc({ role: 'commands' }),
  );
  const subscriber = createSubscriberClient(config.redisUrl, logger, () =>
    metrics.redisReconnects.inc({ role: 'subscriber' }),
  );
  await Promise.all([connectOrFail(commands, config.redisUrl), connectOrFail(subscriber, config.redisUrl)]);
  const broker = new RedisBroker(commands, subscriber, options);
  await broker.start();
  return {
    broker,
    idempotency: new RedisIdempotencyStore(commands),
    presence: new RedisPresenceRegistry(commands),
    rateLimits: new RedisThrottlerStorage(commands),
    pushSubscriptions: new RedisPushSubscriptionStore(commands),
    pushLedger: new RedisPushLedger(commands),
    close: () => broker.close(),
  };
}

const ENGINE = Symbol('Engine');
/** The engine's @nestjs/throttler storage (rate-limit budgets shared by every replica). */
export const RATE_LIMIT_STORAGE = Symbol('RateLimitStorage');

@Global()
@Module({
  providers: [
    { provide: ENGINE, inject: [AppConfig, Metrics], useFactory: createEngine },
    { provide: Broker, inject: [ENGINE], useFactory: (engine: Engine) => engine.broker },
    { provide: IdempotencyStore, inject: [ENGINE], useFactory: (engine: Engine) => engine.idempotency },
    { provide: PresenceRegistry, inject: [ENGINE], useFactory: (engine: Engine) => engine.presence },
    { provide: RATE_LIMIT_STORAGE, inject: [ENGINE], useFactory: (engine: Engine) => engine.rateLimits },
    {
      provide: PushSubscriptionStore,
      inject: [ENGINE],
      useFactory: (engine: Engine) => engine.pushSubscriptions,
    },
    { provide: PushLedger, inject: [ENGINE], useFactory: (engine: Engine) => engine.pushLedger },
  ],
  exports: [
    Broker,
    IdempotencyStore,
    PresenceRegistry,
    RATE_LIMIT_STORAGE,
    PushSubscriptionStore,
    PushLedger,
  ],
})
export class EngineModule implements OnApplicationShutdown {
  constructor(@Inject(ENGINE) private readonly engine: Engine) {}

  async onApplicationShutdown(): Promise<void> {
    await this.engine.close();
  }
}
