import { Module } from '@nestjs/common';
import { PublishModule } from '../publish/publish.module';
import { DemoAssets } from './demo-assets';
import { DemoController, DemoHomeController } from './demo.controller';
import { DemoService } from './demo.service';

/**
 * The demo page at `/demo` (and `/` → `/demo`): connect as any user, subscribe, publish, watch the feed.
 * AppModule imports it only when `AppConfig.demo` — NODE_ENV is not `production` and none of
 * JWT_SECRET, JWT_PUBLIC_KEY, JWKS_URL, API_KEYS is set — because its token and publish routes need no
 * credentials: with configured credentials `/demo…` answers 404.
 */
@Module({
  imports: [PublishModule],
  controllers: [DemoController, DemoHomeController],
  providers: [DemoAssets, DemoService],
})
export class DemoModule {}
