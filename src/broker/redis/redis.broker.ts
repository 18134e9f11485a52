import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Result } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { engineCall, EngineUnavailableError } from '../../common/errors';
import { Broker, ChannelMessage, Delivery, HistoryPage, PublishRequest } from '../broker';
import { dataHead, dataTail, newEpoch } from '../notification-encoding';

export interface RedisBrokerOptions {
  historySize: number;
  historyTtlSeconds: number;
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

type PublishReply = [number, string];
type HistoryReply = [string, number, string[]];

declare module 'ioredis' {
  interface RedisCommander<Context> {
    heraldPublish(...args: (string | number)[]): Result<PublishReply, Context>;
    heraldHistory(...args: (string | number)[]): Result<HistoryReply, Context>;
    heraldEndLife(...args: string[]): Result<number, Context>;
  }
}

/**
 * Keys of one channel, all in the channel's hash slot so that a Redis Cluster keeps them on one shard
 * (and sharded pub/sub can carry the channel): meta `herald:{<channel>}:meta`, history stream
 * `herald:{<channel>}:history`, pub/sub channel `herald:{<channel>}`.
 */
export const channelKeys = (channel: string) => ({
  meta: `herald:{${channel}}:meta`,
  history: `herald:{${channel}}:history`,
  pubsub: `herald:{${channel}}`,
});

/** Marks that a notification id was stored in the channel (idempotent retries); same hash slot. */
const storedKey = (channel: string, id: string): string => `herald:{${channel}}:stored:${id}`;

const PUBSUB_PREFIX = 'herald:{';
const PROBE_TIMEOUT_MS = 1000;

const script = (name: string): string => readFileSync(join(__dirname, name), 'utf8');

/**
 * The Redis engine. History and offsets live in Redis (see publish.lua / history.lua); fan-out is
 * interest-based: this replica SUBSCRIBEs a channel only while it holds a connection on it, so a
 * notification for one user reaches only the replicas that hold that user. Subscription changes made
 * in one tick go to Redis as one SUBSCRIBE and one UNSUBSCRIBE.
 */
export class RedisBroker extends Broker {
  private readonly logger = new Logger(RedisBroker.name);
  /** Per channel, the last subscription change asked for in this tick, and who waits for it. */
  private readonly pendingChanges = new Map<string, { subscribe: boolean; waiters: Waiter[] }>();
  private flushScheduled = false;
  private readonly probeChannel = `herald:probe:${randomBytes(8).toString('hex')}`;
  private readonly probes = new Map<string, () => void>();
  private everReady = false;

  constructor(
    private readonly commands: Redis,
    private readonly subscriber: Redis,
    private readonly options: RedisBrokerOptions,
  ) {
    super();
    commands.defineCommand('heraldPublish', { numberOfKeys: 3, lua: script('publish.lua') });
    commands.defineCommand('heraldHistory', { numberOfKeys: 2, lua: script('history.lua') });
    commands.defineCommand('heraldEndLife', { numberOfKeys: 2, lua: script('end-life.lua') });
    subscriber.on('message', (pubsubChannel: string, message: string) =>
      this.receive(pubsubChannel, message),
    );
    subscriber.on('ready', () => this.onSubscriberReady());
  }

  /** Subscribes the probe channel used by {@link isHealthy}; call once both clients are connected. */
  async start(): Promise<void> {
    await this.subscriber.subscribe(this.probeChannel);
    this.everReady = true;
  }

  async publishMany(requests: readonly PublishRequest[]): Promise<Delivery[][]> {
    const epoch = newEpoch();
    const now = Date.now();
    // One script call per channel; auto-pipelining sends every call of this tick in one write.
    const calls: Promise<Delivery>[] = [];
    for (const { draft, channels, dedupeTtlSeconds = 0 } of requests) {
      const tail = dataTail(draft);
      for (const channel of channels) {
        const keys = channelKeys(channel);
        calls.push(
          this.commands
            .heraldPublish(
              keys.meta,
              keys.history,
              storedKey(channel, draft.id),
              epoch,
              this.options.historySize,
              this.options.historyTtlSeconds,
              keys.pubsub,
              dataHead(draft.id, channel),
              tail,
              now,
              dedupeTtlSeconds,
            )
            .then(([offset, channelEpoch]): Delivery => ({ channel, offset, epoch: channelEpoch })),
        );
      }
    }
    const deliveries = await engineCall(() => Promise.all(calls));
    let next = 0;
    return requests.map(({ channels }) => deliveries.slice(next, (next += channels.length)));
  }

  async history(channel: string, after: number, limit: number): Promise<HistoryPage> {
    const keys = channelKeys(channel);
    const [epoch, offset, flat] = await engineCall(() =>
      this.commands.heraldHistory(
        keys.meta,
        keys.history,
        after,
        limit,
        newEpoch(),
        this.options.historyTtlSeconds,
      ),
    );
    const messages: ChannelMessage[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      messages.push({ channel, offset: parseInt(flat[i], 10), epoch, data: flat[i + 1] });
    }
    return { epoch, offset: Number(offset), messages };
  }

  async endLife(channel: string, epoch: string): Promise<boolean> {
    const keys = channelKeys(channel);
    return (await engineCall(() => this.commands.heraldEndLife(keys.meta, keys.history, epoch))) === 1;
  }

  subscribe(channel: string): Promise<void> {
    return new Promise((resolve, reject) => this.change(channel, true, { resolve, reject }));
  }

  unsubscribe(channel: string): void {
    this.change(channel, false);
  }

  async isHealthy(): Promise<boolean> {
    if (this.commands.status !== 'ready' || this.subscriber.status !== 'ready') return false;
    const nonce = randomBytes(8).toString('hex');
    const received = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.probes.delete(nonce);
        resolve(false);
      }, PROBE_TIMEOUT_MS);
      this.probes.set(nonce, () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    try {
      await this.commands.publish(this.probeChannel, nonce);
    } catch {
      this.probes.get(nonce)?.();
      return false;
    }
    return received;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.subscriber.quit(), this.commands.quit()]);
    this.subscriber.disconnect();
    this.commands.disconnect();
  }

  private receive(pubsubChannel: string, message: string): void {
    if (pubsubChannel === this.probeChannel) {
      this.probes.get(message)?.();
      this.probes.delete(message);
      return;
    }
    // "<offset>:<epoch>:<publishedAt>:<data>" on "herald:{<channel>}"; epochs are base64url (no ':').
    const first = message.indexOf(':');
    const second = message.indexOf(':', first + 1);
    const third = message.indexOf(':', second + 1);
    this.emitMessage({
      channel: pubsubChannel.slice(PUBSUB_PREFIX.length, -1),
      offset: parseInt(message.slice(0, first), 10),
      epoch: message.slice(first + 1, second),
      publishedAt: parseInt(message.slice(second + 1, third), 10),
      data: message.slice(third + 1),
    });
  }

  private change(channel: string, subscribe: boolean, waiter?: Waiter): void {
    const pending = this.pendingChanges.get(channel);
    if (pending) {
      pending.subscribe = subscribe;
      if (waiter) pending.waiters.push(waiter);
    } else {
      this.pendingChanges.set(channel, { subscribe, waiters: waiter ? [waiter] : [] });
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flushChanges());
    }
  }

  /**
   * Sends the tick's changes: one UNSUBSCRIBE, then one SUBSCRIBE (commands on one connection take
   * effect in order). A subscribe's waiters are resolved once Redis acknowledged it (rejected if it
   * failed); a subscribe that was undone in the same tick resolves them at once.
   */
  private flushChanges(): void {
    this.flushScheduled = false;
    const changes = [...this.pendingChanges];
    this.pendingChanges.clear();
    const unsubscribe = changes.filter(([, change]) => !change.subscribe);
    const subscribe = changes.filter(([, change]) => change.subscribe);
    unsubscribe.forEach(([, change]) => change.waiters.forEach((waiter) => waiter.resolve()));
    if (unsubscribe.length > 0) {
      this.subscriber
        .unsubscribe(...unsubscribe.map(([channel]) => channelKeys(channel).pubsub))
        .catch((error: Error) => this.logger.warn(`unsubscribe failed: ${error.message}`));
    }
    if (subscribe.length > 0) {
      const waiters = subscribe.flatMap(([, change]) => change.waiters);
      this.subscriber.subscribe(...subscribe.map(([channel]) => channelKeys(channel).pubsub)).then(
        () => waiters.forEach((waiter) => waiter.resolve()),
        (error: Error) => waiters.forEach((waiter) => waiter.reject(new EngineUnavailableError(error))),
      );
    }
  }

  /**
   * After a reconnect ioredis has re-sent our subscriptions; a PING answered on the same connection
   * proves they are in effect, and from then on listeners can fill what was missed from history.
   */
  private onSubscriberReady(): void {
    if (!this.everReady) return;
    this.subscriber.ping().then(
      () => this.emitResync(),
      (error: Error) => this.logger.warn(`resync ping failed: ${error.message}`),
    );
  }
}
