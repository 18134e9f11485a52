/**
 * A stand-in replica for the webhook crash test: the real WebhookOutbox, WebhookDispatcher,
 * WebhookSender and RedisWebhookQueue, without the rest of the service (no route may emit events
 * in the built app). It emits one `notification.delivered` event for the user given, sends it like
 * a replica does, and runs until killed. Run with `node -r @swc-node/register`; arguments:
 * <redis url> <webhook url> <secret> <user id> <lease ms>.
 */
import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { Metrics } from '../../src/metrics/metrics';
import { RedisWebhookQueue } from '../../src/webhooks/redis/redis-webhook.queue';
import { WebhookDispatcher } from '../../src/webhooks/webhook-dispatcher';
import { WebhookOutbox } from '../../src/webhooks/webhook-outbox';
import { WebhookSender } from '../../src/webhooks/webhook-sender';

async function main(): Promise<void> {
  const [redisUrl, url, secret, userId, leaseMs] = process.argv.slice(2);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  redis.on('error', (error: Error) => process.stderr.write(`redis: ${error.message}\n`));
  const queue = new RedisWebhookQueue(redis);
  const dispatcher = new WebhookDispatcher(
    queue,
    new WebhookSender({ url, secret, timeoutMs: 60_000, maxSockets: 4 }),
    new Metrics(),
    new Logger('WebhookReplica'),
    {
      concurrency: 4,
      pollIntervalMs: 1000,
      leaseMs: Number(leaseMs),
      retryScheduleMs: [100],
      logIntervalMs: 5000,
    },
  );
  dispatcher.start();
  await new WebhookOutbox(queue, dispatcher).emit({
    type: 'notification.delivered',
    data: { notificationId: `n-${userId}`, userId },
  });
  process.stdout.write('emitted\n');
}

main().catch((error: Error) => {
  process.stderr.write(`webhook replica failed: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
