import { Logger } from '@nestjs/common';
import calculateSlot from 'cluster-key-slot';
import type { Cluster } from 'ioredis';
import type Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { SerialTask } from '../../common/serial-task';
import { withTimeout } from '../../common/timeout';
import type { RedisNodeAddress } from '../../config/redis-topology';
import type { EngineCommands } from '../../engine/engine-commands';
import { Probes, PubSubLink } from './pubsub-link';

const PROBE_TIMEOUT_MS = 1000;
/** One SSUBSCRIBE may take this long before it counts as failed (ioredis may never settle one). */
const SUBSCRIBE_TIMEOUT_MS = 2000;
/** Attempts of one subscribe, with a slot-map refresh between them (a MOVED, a master not yet known). */
const SUBSCRIBE_ATTEMPTS = 3;
/** After a failed round of moving subscriptions, the next round waits this long (then doubles). */
const RETRY_INITIAL_MS = 100;
const RETRY_MAX_MS = 2000;
/** At most one log line about failed rounds per this many ms. */
const LOG_INTERVAL_MS = 5000;

/** Per-shard figures the link reports (a shard is named by its master, `host:port`). */
export interface ShardMetrics {
  subscriptions(shard: string, channels: number): void;
  reconnect(shard: string): void;
  resync(shard: string, slots: number): void;
}

/** One master's sharded pub/sub connection. */
interface ShardLink {
  key: string;
  redis: Redis;
  connectedBefore: boolean;
  lastError: string;
}

/**
 * Sharded pub/sub on a Redis Cluster, one connection per master ("node-grouped"): each channel is
 * SSUBSCRIBEd on the master that serves its slot, one command per slot per batch, and only for the
 * channels this replica holds connections on.
 *
 * The link knows, per slot, on which master its subscriptions are in effect (`placement`). Whenever
 * the cluster's slot map says another master serves a slot (failover, migration, a stalled master
 * back as a replica), a master's connection came back, or a master pushed an unsolicited
 * `sunsubscribe`, it subscribes the slot's channels where they now belong, waits for Redis to confirm,
 * and only then reports the slots for resync — so a catch-up from history never runs before live
 * messages flow again, and quiet channels catch up too. The subscriptions are this class's own
 * (ioredis's cluster subscriber group cannot tell when a resubscription is in effect).
 */
export class ShardedPubSub implements PubSubLink {
  readonly publishCommand = 'SPUBLISH';
  private readonly logger = new Logger(ShardedPubSub.name);
  /** Per slot, the pub/sub channels this replica wants. */
  private readonly desired = new Map<number, Set<string>>();
  /** Per slot, the link on which every desired channel of the slot is subscribed. */
  private readonly placement = new Map<number, ShardLink>();
  private readonly links = new Map<string, ShardLink>();
  private readonly probes = new Probes();
  private readonly probeId = randomBytes(8).toString('hex');
  /** Per slot, a hash tag that hashes to it (for probe channels). */
  private readonly probeTags = new Map<number, string>();
  private probeChannels: string[] = [];
  private messageListener: (channel: string, message: string) => void = () => undefined;
  private resyncListener: (affects: (channel: string) => boolean) => void = () => undefined;
  private readonly reconciler = new SerialTask(() => this.moveSubscriptions());
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = RETRY_INITIAL_MS;
  private lastFailureLogAt = Number.NEGATIVE_INFINITY;
  private closed = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly connect: (address: RedisNodeAddress) => Redis,
    private readonly metrics: ShardMetrics,
  ) {
    cluster.on('refresh', () => this.reconcile());
    cluster.on('+node', () => this.reconcile());
    cluster.on('-node', () => this.reconcile());
  }

  async start(): Promise<void> {
    await this.ensureProbes();
  }

  async subscribe(channels: readonly string[]): Promise<(Error | undefined)[]> {
    const failed = new Map<string, Error>();
    await Promise.all(
      [...groupBySlot(channels)].map(([slot, list]) => {
        let wanted = this.desired.get(slot);
        const fresh = !wanted || wanted.size === 0;
        if (!wanted) this.desired.set(slot, (wanted = new Set()));
        for (const channel of list) wanted.add(channel);
        return this.subscribeSlot(slot, list, fresh).catch((error: Error) =>
          list.forEach((channel) => failed.set(channel, error)),
        );
      }),
    );
    return channels.map((channel) => failed.get(channel));
  }

  unsubscribe(channels: readonly string[]): void {
    for (const [slot, list] of groupBySlot(channels)) {
      const wanted = this.desired.get(slot);
      for (const channel of list) wanted?.delete(channel);
      if (wanted?.size === 0) {
        this.desired.delete(slot);
        this.placement.delete(slot);
      }
      // Wherever it may be subscribed: where the slot was in effect, and its master now.
      const targets = new Set([this.placement.get(slot), this.ownerLink(slot)]);
      for (const link of targets) {
        if (link?.redis.status === 'ready') link.redis.sunsubscribe(...list).catch(() => undefined);
      }
    }
  }

  /** Every master round-trips a probe through this replica's subscription on it. */
  async isHealthy(commands: EngineCommands): Promise<boolean> {
    if (this.closed || this.cluster.status !== 'ready') return false;
    try {
      await this.ensureProbes();
    } catch {
      return false;
    }
    const results = await Promise.all(
      this.probeChannels.map((channel) => {
        const nonce = randomBytes(8).toString('hex');
        return this.probes.roundTrip(nonce, PROBE_TIMEOUT_MS, () => commands.spublish(channel, nonce));
      }),
    );
    return results.length > 0 && results.every(Boolean);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    await Promise.allSettled([
      this.reconciler.close(),
      ...[...this.links.values()].map((link) => link.redis.quit()),
    ]);
    for (const link of this.links.values()) link.redis.disconnect();
    this.links.clear();
  }

  onMessage(listener: (channel: string, message: string) => void): void {
    this.messageListener = listener;
  }

  onResync(listener: (affects: (channel: string) => boolean) => void): void {
    this.resyncListener = listener;
  }

  /**
   * Subscribes one slot's channels where the slot is in effect (or at its master), retrying after a
   * slot-map refresh. A slot nobody wanted before is in effect on that master once it answers.
   */
  private async subscribeSlot(slot: number, channels: string[], fresh: boolean): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const link = this.placement.get(slot) ?? this.ownerLink(slot);
      try {
        if (!link) throw new Error(`no master serves slot ${slot}`);
        await withTimeout(
          this.ready(link).then(() => link.redis.ssubscribe(...channels)),
          SUBSCRIBE_TIMEOUT_MS,
          `ssubscribe on ${link.key}`,
        );
        if (fresh && !this.placement.has(slot) && this.desired.has(slot) && link.key === this.ownerKey(slot))
          this.placement.set(slot, link);
        return;
      } catch (error) {
        if (attempt >= SUBSCRIBE_ATTEMPTS || this.closed) throw error;
        await this.refreshSlots();
      }
    }
  }

  /** Runs {@link moveSubscriptions} now, or once more after the running round. */
  private reconcile(): void {
    if (!this.closed) this.reconciler.request();
  }

  /**
   * Subscribes every slot whose subscriptions are not in effect on its current master there, then
   * reports those slots for resync. A failed round is retried with backoff (and logged at most once
   * per LOG_INTERVAL_MS).
   */
  private async moveSubscriptions(): Promise<void> {
    const moved = new Map<string, number[]>();
    let failures = 0;
    let lastError = '';
    const work: Promise<void>[] = [];
    for (const [slot, wanted] of this.desired) {
      const owner = this.ownerKey(slot);
      if (!owner || wanted.size === 0 || this.placement.get(slot)?.key === owner) continue;
      const link = this.linkFor(owner);
      const channels = [...wanted];
      work.push(
        withTimeout(
          this.ready(link).then(() => link.redis.ssubscribe(...channels)),
          SUBSCRIBE_TIMEOUT_MS,
          `ssubscribe on ${owner}`,
        ).then(
          () => {
            const previous = this.placement.get(slot);
            if (previous && previous !== link && previous.redis.status === 'ready')
              previous.redis.sunsubscribe(...channels).catch(() => undefined);
            const stillWanted = this.desired.get(slot);
            const gone = channels.filter((channel) => !stillWanted?.has(channel));
            if (gone.length > 0) link.redis.sunsubscribe(...gone).catch(() => undefined);
            if (stillWanted) this.placement.set(slot, link);
            moved.set(owner, [...(moved.get(owner) ?? []), slot]);
          },
          (error: Error) => {
            failures += 1;
            lastError = error.message;
          },
        ),
      );
    }
    await Promise.all(work);
    this.dropIdleLinks();
    this.reportSubscriptions();
    if (moved.size > 0) {
      const slots = new Set<number>();
      for (const [shard, list] of moved) {
        list.forEach((slot) => slots.add(slot));
        this.metrics.resync(shard, list.length);
      }
      this.resyncListener((channel) => slots.has(calculateSlot(channel)));
    }
    if (failures === 0) {
      this.retryDelayMs = RETRY_INITIAL_MS;
      return;
    }
    if (Date.now() - this.lastFailureLogAt >= LOG_INTERVAL_MS) {
      this.lastFailureLogAt = Date.now();
      this.logger.warn(
        `sharded subscriptions of ${failures} slots not in effect yet (${lastError}); retrying`,
      );
    }
    this.cluster.refreshSlotsCache();
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.reconcile(), this.retryDelayMs);
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, RETRY_MAX_MS);
  }

  /** One probe channel per master, in a slot that master serves; subscribed before it is used. */
  private async ensureProbes(): Promise<void> {
    const firstSlots = new Map<string, number>();
    this.cluster.slots.forEach((nodes, slot) => {
      if (nodes?.[0] && !firstSlots.has(nodes[0])) firstSlots.set(nodes[0], slot);
    });
    if (firstSlots.size === 0) throw new Error('the cluster has no slot map yet');
    const channels = [...firstSlots.values()].map(
      (slot) => `herald:probe:${this.probeId}:{${this.probeTag(slot)}}`,
    );
    const obsolete = this.probeChannels.filter((channel) => !channels.includes(channel));
    const added = channels.filter((channel) => !this.probeChannels.includes(channel));
    const failure = (await this.subscribe(added)).find(Boolean);
    if (failure) throw failure;
    if (obsolete.length > 0) this.unsubscribe(obsolete);
    this.probeChannels = channels;
  }

  private probeTag(slot: number): string {
    let tag = this.probeTags.get(slot);
    for (let i = 0; tag === undefined; i++) if (calculateSlot(`p${i}`) === slot) tag = `p${i}`;
    this.probeTags.set(slot, tag);
    return tag;
  }

  private ownerKey(slot: number): string | undefined {
    return this.cluster.slots[slot]?.[0];
  }

  private ownerLink(slot: number): ShardLink | undefined {
    const owner = this.ownerKey(slot);
    return owner ? this.linkFor(owner) : undefined;
  }

  private linkFor(key: string): ShardLink {
    const existing = this.links.get(key);
    if (existing) return existing;
    const separator = key.lastIndexOf(':');
    const redis = this.connect({ host: key.slice(0, separator), port: Number(key.slice(separator + 1)) });
    const link: ShardLink = { key, redis, connectedBefore: false, lastError: '' };
    redis.on('smessage', (channel: string, message: string) => {
      if (channel.startsWith('herald:probe:')) this.probes.received(message);
      else this.messageListener(channel, message);
    });
    redis.on('error', (error: Error) => {
      if (error.message === link.lastError) return;
      link.lastError = error.message;
      this.logger.warn(`redis shard ${key}: ${error.message}`);
    });
    redis.on('ready', () => {
      link.lastError = '';
      if (link.connectedBefore) {
        this.logger.log(`redis shard ${key}: reconnected`);
        this.metrics.reconnect(key);
      }
      link.connectedBefore = true;
      this.reconcile();
    });
    // Its subscriptions end with the connection, or when the node stops serving some of its slots
    // (ioredis turns that unsolicited `sunsubscribe` into `moved`): subscribe them again wherever
    // they belong now.
    redis.on('close', () => this.unplace(link));
    redis.on('moved', () => {
      this.unplace(link);
      this.cluster.refreshSlotsCache();
      this.reconcile();
    });
    this.links.set(key, link);
    redis.connect().catch(() => undefined);
    return link;
  }

  private unplace(link: ShardLink): void {
    for (const [slot, placed] of this.placement) if (placed === link) this.placement.delete(slot);
  }

  /** Resolves once the link's connection is ready (it connects and reconnects by itself). */
  private ready(link: ShardLink): Promise<void> {
    if (link.redis.status === 'ready') return Promise.resolve();
    return new Promise((resolve) => link.redis.once('ready', () => resolve()));
  }

  /** Closes links to nodes that serve no slot and hold no subscription (a demoted or removed master). */
  private dropIdleLinks(): void {
    const owners = new Set(this.cluster.slots.map((nodes) => nodes?.[0]));
    const placed = new Set(this.placement.values());
    for (const [key, link] of this.links) {
      if (owners.has(key) || placed.has(link)) continue;
      this.links.delete(key);
      link.redis.quit().catch(() => link.redis.disconnect());
    }
  }

  private reportSubscriptions(): void {
    const counts = new Map<string, number>([...this.links.keys()].map((key) => [key, 0]));
    for (const [slot, link] of this.placement)
      counts.set(link.key, (counts.get(link.key) ?? 0) + (this.desired.get(slot)?.size ?? 0));
    for (const [shard, channels] of counts) this.metrics.subscriptions(shard, channels);
  }

  private refreshSlots(): Promise<void> {
    return new Promise((resolve) => this.cluster.refreshSlotsCache(() => resolve()));
  }
}

function groupBySlot(channels: readonly string[]): Map<number, string[]> {
  const groups = new Map<number, string[]>();
  for (const channel of channels) {
    const slot = calculateSlot(channel);
    const group = groups.get(slot);
    if (group) group.push(channel);
    else groups.set(slot, [channel]);
  }
  return groups;
}
