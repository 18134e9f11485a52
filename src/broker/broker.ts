/** A notification as published, before it is stored in any channel (it has no offset or epoch yet). */
export interface NotificationDraft {
  /**
   * UUID (random, or derived from an Idempotency-Key); the same on every channel the publish reached.
   * Like the timestamps it never needs JSON escaping: the frame data quotes it as it is.
   */
  id: string;
  type: string;
  payload: unknown;
  /** ISO-8601 UTC, from `Date.prototype.toISOString`. */
  createdAt: string;
  /** ISO-8601 UTC (`toISOString`), when the publisher set one; carried in the `notification` frame. */
  expiresAt?: string;
}

/**
 * A notification stored in one channel. `data` is the JSON text of the `notification` frame's data
 * (`{id, channel, offset, epoch, type, payload, createdAt}`), made once when it is stored so that no
 * replica serializes it again.
 */
export interface ChannelMessage {
  channel: string;
  offset: number;
  epoch: string;
  data: string;
  /** ms since the epoch when the engine stored it; set on live messages, not on history reads. */
  publishedAt?: number;
}

/** The newest offset in a channel and the epoch (life of its history) it belongs to. */
export interface ChannelPosition {
  offset: number;
  epoch: string;
}

/** One notification and the channels it goes to. */
export interface PublishRequest {
  draft: NotificationDraft;
  channels: readonly string[];
  /**
   * Makes storing idempotent per channel for this long: a channel that already stored a notification
   * with this draft's id is left as it is, and its first delivery is returned. Set for retries of one
   * publish (same Idempotency-Key → same id), so a retry after a partial failure stores nothing twice.
   */
  dedupeTtlSeconds?: number;
}

/** One entry of a publish response: where the notification was stored. */
export interface Delivery extends ChannelPosition {
  channel: string;
}

/** The channel's position at the time of reading, and the stored messages after the asked offset. */
export interface HistoryPage extends ChannelPosition {
  /** Ascending by offset, each > the asked offset, at most `limit` of them. */
  messages: ChannelMessage[];
}

export type MessageListener = (message: ChannelMessage) => void;

/** `affects` tells which channels may have missed messages; undefined: every channel. */
export type ResyncListener = (affects: ((channel: string) => boolean) | undefined) => void;

/**
 * Stores notifications in per-channel histories and carries them to every replica that is interested
 * in the channel. Guarantees, for both engines:
 * - **Order**: storing a notification (next offset of its channel, current epoch) and publishing it
 *   are one atomic step, so every listener sees a channel's messages in offset order, even with
 *   concurrent publishers on several replicas. Delivery to listeners is at-most-once (a broken link
 *   loses messages); listeners detect gaps from the offsets and fill them from {@link history}.
 * - **Offsets**: 1, 2, 3, … per channel within one epoch; the epoch changes when the history is lost
 *   (expiry after HISTORY_TTL_SECONDS without a notification, Redis losing its data, a memory engine
 *   restart). Reading a channel that has no history starts a new epoch at offset 0.
 * - **History**: the last HISTORY_SIZE messages of each channel.
 * - **Interest**: a replica receives a channel's messages only between {@link subscribe} (resolved once
 *   the subscription is in effect) and {@link unsubscribe}.
 */
export abstract class Broker {
  private readonly messageListeners: MessageListener[] = [];
  private readonly resyncListeners: ResyncListener[] = [];

  /**
   * Stores each notification in every one of its channels' histories and publishes it there, all in
   * one round trip to the engine; resolves once all are stored, with the deliveries of each request
   * in order. Rejects with EngineUnavailableError when the engine cannot be reached.
   */
  abstract publishMany(requests: readonly PublishRequest[]): Promise<Delivery[][]>;

  /** {@link publishMany} for one notification. */
  async publish(draft: NotificationDraft, channels: readonly string[]): Promise<Delivery[]> {
    const [deliveries] = await this.publishMany([{ draft, channels }]);
    return deliveries;
  }

  /** The channel's position and up to `limit` stored messages with offset > `after`. */
  abstract history(channel: string, after: number, limit: number): Promise<HistoryPage>;

  /**
   * Ends the channel's history life if it is still in `epoch`: the next message starts a new epoch at
   * offset 1. For when the engine reused offsets that replicas had already delivered (Redis lost its
   * last writes in a crash between AOF fsyncs): clients then learn of the loss (`recovered: false`)
   * instead of dropping the reused offsets as duplicates. Resolves true when this call ended it.
   */
  abstract endLife(channel: string, epoch: string): Promise<boolean>;

  /** Starts delivering the channel's messages to this replica's listeners. */
  abstract subscribe(channel: string): Promise<void>;

  /** Stops delivering the channel's messages to this replica. */
  abstract unsubscribe(channel: string): void;

  /** True when a publish on this replica would be stored and come back through its subscription. */
  abstract isHealthy(): Promise<boolean>;

  abstract close(): Promise<void>;

  onMessage(listener: MessageListener): void {
    this.messageListeners.push(listener);
  }

  /**
   * Called after a subscription link of this replica was lost and is back, or moved to another node
   * (a failover, a slot migration): messages may have been missed on every channel it affects (all
   * when `affects` is undefined; on a cluster, the channels of the slots concerned), and listeners
   * should fill the gaps from history.
   */
  onResync(listener: ResyncListener): void {
    this.resyncListeners.push(listener);
  }

  protected emitMessage(message: ChannelMessage): void {
    for (const listener of this.messageListeners) listener(message);
  }

  protected emitResync(affects?: (channel: string) => boolean): void {
    for (const listener of this.resyncListeners) listener(affects);
  }
}
