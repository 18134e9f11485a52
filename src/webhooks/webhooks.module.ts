import { Global, Module } from '@nestjs/common';
import { DeliveryEvents, DiscardedDeliveryEvents } from './delivery-events';

@Global()
@Module({
  providers: [{ provide: DeliveryEvents, useClass: DiscardedDeliveryEvents }],
  exports: [DeliveryEvents],
})
export class WebhooksModule {}
