import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AuthModule } from './auth/auth.module';
import { EngineModule } from './engine/engine.module';
import { HttpErrorFilter } from './common/http-errors';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DemoModule } from './demo/demo.module';
import { GatewayModule } from './gateway/gateway.module';
import { HealthModule } from './health/health.module';
import { HistoryModule } from './history/history.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { LifecycleModule } from './lifecycle/lifecycle';
import { PublishModule } from './publish/publish.module';
import { PresenceModule } from './presence/presence.module';
import { PushModule } from './push/push.module';
import { SseModule } from './sse/sse.module';
import { WebhooksModule } from './webhooks/webhooks.module';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule,
        MetricsModule,
        EngineModule,
        WebhooksModule,
        AuthModule,
        GatewayModule,
        SseModule,
        LifecycleModule,
        PublishModule,
        PushModule,
        HealthModule,
        PresenceModule,
        HistoryModule,
        ...(config.demo ? [DemoModule] : []),
      ],
      providers: [{ provide: APP_FILTER, useClass: HttpErrorFilter }],
    };
  }
}
