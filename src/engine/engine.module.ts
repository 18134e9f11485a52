import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { Broker } from '../broker/broker';
import { MemoryBroker } from '../broker/memory.broker';
import { connectRedisEngine } from './redis-engine';
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
import { MemoryWebhookQueue } from '../webhooks/memory-webhook.queue';
import { RedisWebhookQueue } from '../webhooks/redis/redis-webhook.queue';
import { WebhookQueue } from '../webhooks/webhook-queue';

/** Everything that lives in the engine (Redis, or this process for the embedded default). */
export interface Engine {
  broker: Broker;
  idempotency: IdempotencyStore;
  presence: PresenceRegistry;
  rateLimits: ThrottlerStorage;
  webhooks: WebhookQueue;
  pushSubscriptions: PushSubscriptionStore;
  pushLedger: PushLedger;
  close(): Promise<void>;
}

/**
 * Decides the engine once, from REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS; the rest of the
 * service only knows the abstractions. An unreachable deployment stops start-up with a message naming
 * its variable.
 */
async function createEngine(config: AppConfig, metrics: Metrics): Promise<Engine> {
  if (!config.redis) {
    const broker = new MemoryBroker({
      historySize: config.historySize,
      historyTtlSeconds: config.historyTtlSeconds,
    });
    return {
      broker,
      idempotency: new MemoryIdempotencyStore(),
      presence: new MemoryPresenceRegistry(),
      rateLimits: new MemoryThrottlerStorage(),
      webhooks: new MemoryWebhookQueue(),
      pushSubscriptions: new MemoryPushSubscriptionStore(),
      pushLedger: new MemoryPushLedger(),
      close: () => broker.close(),
    };
  }
  const { commands, broker } = await connectRedisEngine(config.redis, config, metrics);
  return {
    broker,
    idempotency: new RedisIdempotencyStore(commands),
    presence: new RedisPresenceRegistry(commands),
    rateLimits: new RedisThrottlerStorage(commands),
    webhooks: new RedisWebhookQueue(commands),
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
    { provide: WebhookQueue, inject: [ENGINE], useFactory: (engine: Engine) => engine.webhooks },
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
    WebhookQueue,
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
