import { Controller, Get, HttpCode, Inject, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { Broker } from '../broker/broker';
import { Lifecycle } from '../lifecycle/lifecycle';

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    @Inject(Broker) private readonly broker: Broker,
    @Inject(Lifecycle) private readonly lifecycle: Lifecycle,
  ) {}

  @Get('live')
  @HttpCode(200)
  @ApiOkResponse({ description: 'the process runs' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** 200 only when the engine works end to end (with Redis: a probe publish came back here). */
  @Get('ready')
  @ApiOkResponse({ description: 'ready to take publishes and connections' })
  @ApiServiceUnavailableResponse({ description: 'draining, or the engine does not work end to end' })
  async ready(): Promise<{ status: 'ready' }> {
    if (this.lifecycle.draining) throw new ServiceUnavailableException('draining');
    if (!(await this.broker.isHealthy())) throw new ServiceUnavailableException('engine round trip failed');
    return { status: 'ready' };
  }
}
