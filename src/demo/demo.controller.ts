import { Body, Controller, Get, HttpCode, Inject, Post, Query, Redirect, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { PublishNotificationDto } from '../publish/publish-notification.dto';
import type { PublishResult } from '../publish/publish.service';
import { DemoAssets } from './demo-assets';
import { DemoTokenQuery } from './demo-token-query.dto';
import { DemoService, type DemoToken } from './demo.service';

/** The demo page and its dev-only helpers; kept out of the OpenAPI document, which is the contract. */
@ApiExcludeController()
@Controller('demo')
export class DemoController {
  constructor(
    @Inject(DemoAssets) private readonly assets: DemoAssets,
    @Inject(DemoService) private readonly demo: DemoService,
  ) {}

  @Get()
  page(@Res({ passthrough: true }) reply: FastifyReply): Promise<Buffer> {
    return this.assets.send('page', reply);
  }

  @Get('demo.css')
  stylesheet(@Res({ passthrough: true }) reply: FastifyReply): Promise<Buffer> {
    return this.assets.send('demo.css', reply);
  }

  @Get('demo.js')
  script(@Res({ passthrough: true }) reply: FastifyReply): Promise<Buffer> {
    return this.assets.send('demo.js', reply);
  }

  /** The SDK's ES module build, which the page imports. */
  @Get('herald-client.js')
  sdk(@Res({ passthrough: true }) reply: FastifyReply): Promise<Buffer> {
    return this.assets.send('herald-client.js', reply);
  }

  /** The SDK's service-worker helper, which the page registers (scope `/demo/`) to show Web Push messages. */
  @Get('herald-service-worker.js')
  serviceWorker(@Res({ passthrough: true }) reply: FastifyReply): Promise<Buffer> {
    return this.assets.send('herald-service-worker.js', reply);
  }

  @Get('token')
  token(@Query() query: DemoTokenQuery): DemoToken {
    return this.demo.mintToken(query.user);
  }

  /** Same body, answer and 400s as `POST /v1/notifications`, without an API key. */
  @Post('publish')
  @HttpCode(202)
  publish(@Body() body: PublishNotificationDto): Promise<PublishResult> {
    return this.demo.publish(body);
  }
}

/** `/` is the demo page in development; in production nothing answers there. */
@ApiExcludeController()
@Controller()
export class DemoHomeController {
  @Get()
  @Redirect('/demo', 302)
  home(): void {}
}
