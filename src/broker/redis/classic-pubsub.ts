import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { EngineCommands } from '../../engine/engine-commands';
import { PubSubLink, Probes } from './pubsub-link';

const PROBE_TIMEOUT_MS = 1000;

/**
 * Classic pub/sub on one Redis connection (single and Sentinel modes). ioredis re-sends the
 * subscriptions after a reconnect (to the new master, after a Sentinel failover); a PING answered on
 * the same connection proves they are in effect, and then every channel resyncs.
 */
export class ClassicPubSub implements PubSubLink {
  readonly publishCommand = 'PUBLISH';
  private readonly logger = new Logger(ClassicPubSub.name);
  private readonly probeChannel = `herald:probe:${randomBytes(8).toString('hex')}`;
  private readonly probes = new Probes();
  private messageListener: (channel: string, message: string) => void = () => undefined;
  private resyncListener: (affects: undefined) => void = () => undefined;
  private everReady = false;

  constructor(private readonly subscriber: Redis) {
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.probeChannel) this.probes.received(message);
      else this.messageListener(channel, message);
    });
    subscriber.on('ready', () => this.onReady());
  }

  async start(): Promise<void> {
    await this.subscriber.subscribe(this.probeChannel);
    this.everReady = true;
  }

  subscribe(channels: readonly string[]): Promise<(Error | undefined)[]> {
    return this.subscriber.subscribe(...channels).then(
      () => channels.map(() => undefined),
      (error: Error) => channels.map(() => error),
    );
  }

  unsubscribe(channels: readonly string[]): void {
    this.subscriber
      .unsubscribe(...channels)
      .catch((error: Error) => this.logger.warn(`unsubscribe failed: ${error.message}`));
  }

  async isHealthy(commands: EngineCommands): Promise<boolean> {
    if (commands.status !== 'ready' || this.subscriber.status !== 'ready') return false;
    const nonce = randomBytes(8).toString('hex');
    return this.probes.roundTrip(nonce, PROBE_TIMEOUT_MS, () => commands.publish(this.probeChannel, nonce));
  }

  async close(): Promise<void> {
    await this.subscriber.quit().catch(() => undefined);
    this.subscriber.disconnect();
  }

  onMessage(listener: (channel: string, message: string) => void): void {
    this.messageListener = listener;
  }

  onResync(listener: (affects: undefined) => void): void {
    this.resyncListener = listener;
  }

  private onReady(): void {
    if (!this.everReady) return;
    this.subscriber.ping().then(
      () => this.resyncListener(undefined),
      (error: Error) => this.logger.warn(`resync ping failed: ${error.message}`),
    );
  }
}
