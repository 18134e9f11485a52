import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { AppConfig } from '../config/app-config';
import { Acknowledgements } from './acknowledgements';
import { AcksController } from './acks.controller';
import { DeliveryStatusController } from './delivery-status.controller';
import { OfflineDelivery } from './offline-delivery';
import { PushController, PushSubscriptionListController } from './push.controller';
import { PushDispatcher } from './push-dispatcher';
import { PushSubscriptions } from './push-subscriptions';
import { WEB_PUSH_SENDER, WebPushSender } from './web-push.sender';

/**
 * Offline delivery: acknowledgements, Web Push subscriptions, the push queue's dispatcher and the
 * delivery status. Its stores (PushSubscriptionStore, PushLedger) come from the engine.
 */
@Module({
  imports: [AuthModule],
  controllers: [PushController, PushSubscriptionListController, AcksController, DeliveryStatusController],
  providers: [
    {
      provide: WEB_PUSH_SENDER,
      inject: [AppConfig],
      useFactory: (config: AppConfig): Promise<WebPushSender | null> =>
        config.vapid
          ? WebPushSender.create(config.vapid, config.pushAllowPrivateEndpoints)
          : Promise.resolve(null),
    },
    Acknowledgements,
    OfflineDelivery,
    PushDispatcher,
    PushSubscriptions,
  ],
  exports: [Acknowledgements, OfflineDelivery],
})
export class PushModule {}
