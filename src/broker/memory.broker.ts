import { Broker, ChannelMessage, Delivery, HistoryPage, PublishRequest } from './broker';
import { composeData, dataHead, dataTail, newEpoch } from './notification-encoding';

interface StoredChannel {
  epoch: string;
  offset: number;
  /** The last `historySize` messages, ascending. */
  messages: ChannelMessage[];
  /** ms since the epoch; the history is dropped (and a new epoch starts) after this. */
  expiresAt: number;
}

export interface MemoryBrokerOptions {
  historySize: number;
  historyTtlSeconds: number;
}

const SWEEP_INTERVAL_MS = 60_000;

/**
 * The embedded engine: one replica, same semantics as {@link RedisBroker}. Everything lives in this
 * process, so a restart starts every channel in a new epoch.
 */
export class MemoryBroker extends Broker {
  private readonly channels = new Map<string, StoredChannel>();
  private readonly subscribed = new Set<string>();
  /** `<channel>\n<notification id>` → where it was stored, for deduplicated publishes. */
  private readonly storedIds = new Map<string, Delivery & { expiresAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: MemoryBrokerOptions) {
    super();
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();
  }

  publishMany(requests: readonly PublishRequest[]): Promise<Delivery[][]> {
    return Promise.resolve(requests.map((request) => this.store(request)));
  }

  private store({ draft, channels, dedupeTtlSeconds = 0 }: PublishRequest): Delivery[] {
    const tail = dataTail(draft);
    return channels.map((channel) => {
      const seen = this.storedIds.get(`${channel}\n${draft.id}`);
      if (dedupeTtlSeconds > 0 && seen && seen.expiresAt > Date.now()) {
        return { channel, offset: seen.offset, epoch: seen.epoch };
      }
      const stored = this.channel(channel);
      stored.offset += 1;
      stored.expiresAt = this.expiry();
      const message: ChannelMessage = {
        channel,
        offset: stored.offset,
        epoch: stored.epoch,
        data: composeData(dataHead(draft.id, channel), stored.offset, stored.epoch, tail),
      };
      stored.messages.push(message);
      if (stored.messages.length > this.options.historySize) stored.messages.shift();
      if (this.subscribed.has(channel)) this.emitMessage({ ...message, publishedAt: Date.now() });
      const delivery = { channel, offset: stored.offset, epoch: stored.epoch };
      if (dedupeTtlSeconds > 0) {
        this.storedIds.set(`${channel}\n${draft.id}`, {
          ...delivery,
          expiresAt: Date.now() + dedupeTtlSeconds * 1000,
        });
      }
      return delivery;
    });
  }

  history(channel: string, after: number, limit: number): Promise<HistoryPage> {
    const stored = this.channel(channel);
    const start = stored.messages.findIndex((message) => message.offset > after);
    const messages = start < 0 ? [] : stored.messages.slice(start, start + limit);
    return Promise.resolve({ offset: stored.offset, epoch: stored.epoch, messages });
  }

  endLife(channel: string, epoch: string): Promise<boolean> {
    const ended = this.channels.get(channel)?.epoch === epoch;
    if (ended) this.channels.delete(channel);
    return Promise.resolve(ended);
  }

  subscribe(channel: string): Promise<void> {
    this.subscribed.add(channel);
    return Promise.resolve();
  }

  unsubscribe(channel: string): void {
    this.subscribed.delete(channel);
  }

  isHealthy(): Promise<boolean> {
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    clearInterval(this.sweeper);
    return Promise.resolve();
  }

  /** The channel's live history, starting a new epoch when it has none (or it expired). */
  private channel(name: string): StoredChannel {
    let stored = this.channels.get(name);
    if (!stored || stored.expiresAt <= Date.now()) {
      stored = { epoch: newEpoch(), offset: 0, messages: [], expiresAt: this.expiry() };
      this.channels.set(name, stored);
    }
    return stored;
  }

  private expiry(): number {
    return Date.now() + this.options.historyTtlSeconds * 1000;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [name, stored] of this.channels) {
      if (stored.expiresAt <= now) this.channels.delete(name);
    }
    for (const [key, stored] of this.storedIds) {
      if (stored.expiresAt <= now) this.storedIds.delete(key);
    }
  }
}
