import { Inject, Logger, Module, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { PublishModule } from '../publish/publish.module';
import { DemoAssets } from './demo-assets';
import { DemoController, DemoHomeController } from './demo.controller';
import { DemoService } from './demo.service';

/**
 * The demo page at `/demo` (and `/` → `/demo`): connect as any user, subscribe, publish, watch the feed.
 * Development only — AppModule imports it only when NODE_ENV is not `production`, because its token
 * and publish routes need no credentials.
 */
@Module({
  imports: [PublishModule],
  controllers: [DemoController, DemoHomeController],
  providers: [DemoAssets, DemoService],
})
export class DemoModule implements OnApplicationBootstrap {
  constructor(@Inject(AppConfig) private readonly config: AppConfig) {}

  onApplicationBootstrap(): void {
    if (this.config.generated.jwtSecret !== undefined) return;
    // Configured secrets without NODE_ENV=production usually mean a shared deployment, not a laptop.
    new Logger('DemoModule').warn(
      'NODE_ENV is not production: /demo/token mints client tokens signed with the configured JWT_SECRET ' +
        'for any user, and /demo/publish publishes without an API key. Set NODE_ENV=production to remove them.',
    );
  }
}
