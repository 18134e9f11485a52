import { Logger } from '@nestjs/common';
import type { Cluster, Result } from 'ioredis';
import type Redis from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { engineCall, EngineUnavailableError } from '../../common/errors';
import { EngineCommands, isCluster } from '../../engine/engine-commands';
import { Broker, ChannelMessage, Delivery, HistoryPage, PublishRequest } from '../broker';
import { dataHead, dataTail, newEpoch } from '../notification-encoding';
import { AckedWrite, AckedWrites, Verdict, WRITES_PER_NODE, WriteRoutes } from './acked-writes';
import type { PubSubLink } from './pubsub-link';
import { WriteGroups } from './write-groups';

export interface RedisBrokerOptions {
  historySize: number;
  historyTtlSeconds: number;
  /** REDIS_MIN_REPLICAS_ACK: a publish resolves only once this many replicas of each shard it wrote to have it. */
  minReplicasAck: number;
  /** Called with the number of channels whose epoch this replica ended because writes it had acknowledged were lost. */
  onLostWrites?: (channels: number) => void;
  /** Says why publishes must wait (503) for now, e.g. a Sentinel failover under way; closed with the broker. */
  publishHold?: { reason(): string | undefined; close(): void };
}

/** How long WAIT gives the replicas (REDIS_MIN_REPLICAS_ACK). */
const REPLICA_ACK_TIMEOUT_MS = 1000;

/**
 * Channel writes per publish script call on one Redis. The script blocks Redis while it runs, about
 * 10 µs per write: 256 keep a call near 3 ms. Per write, calls of 64 to 1,000 cost the same on both
 * sides (a call's own cost is a few writes'), but smaller calls let Redis run one while the replica
 * still encodes the next or reads the last one's answer: 1,000-notification batches took the longest
 * in one call of 1,000.
 */
const WRITES_PER_CALL = 256;

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

/** {offset, epoch} per write, flat: offset of write w at 2w, its epoch at 2w + 1; {0, error} if it failed. */
type PublishReply = (number | string)[];
type HistoryReply = [string, number, string[]];

declare module 'ioredis' {
  interface RedisCommander<Context> {
    heraldPublish(...args: (string | number)[]): Result<PublishReply, Context>;
    heraldPublishMany(
      ...args: (string | number | readonly (string | number)[])[]
    ): Result<PublishReply, Context>;
    heraldHistory(...args: (string | number)[]): Result<HistoryReply, Context>;
    heraldEndLife(...args: string[]): Result<number, Context>;
    heraldAcked(...args: (string | number)[]): Result<number, Context>;
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

/** What storing one write gave: its delivery, or the error Redis answered for it alone. */
type Stored = Delivery | Error;

/** One notification to store in one channel. */
interface ChannelWrite {
  channel: string;
  id: string;
  /** {@link dataTail} of the notification. */
  tail: string;
  dedupeTtlSeconds: number;
}

const script = (name: string): string => readFileSync(join(__dirname, name), 'utf8');

/**
 * publish.lua for a cluster node's calls, which carry the writes of every slot the node serves with
 * their keys undeclared: Redis allows that only to a script flagged allow-cross-slot-keys. (The other
 * calls keep the plain `#!lua` line, under which Redis enforces one slot per call.)
 */
let nodePublishLua: string | undefined;
const nodePublishScript = (): string =>
  (nodePublishLua ??= script('publish.lua').replace(/^#!lua\n/, '#!lua flags=allow-cross-slot-keys\n'));

/** What a script reply's offset says of a write: stored (> 0), failed ({@link FAILED}), or not run here. */
const FAILED = 0;
const NOT_RUN = -1;

/**
 * The Redis engine, on one Redis, a Sentinel-managed master or a Redis Cluster. History and offsets
 * live in Redis (see publish.lua / history.lua); fan-out is interest-based: this replica subscribes a
 * channel (classic pub/sub, or sharded pub/sub on a cluster — see {@link PubSubLink}) only while it
 * holds a connection on it, so a notification for one user reaches only the replicas that hold that
 * user. Subscription changes made in one tick go to Redis together.
 */
export class RedisBroker extends Broker {
  /** Per channel, the last subscription change asked for in this tick, and who waits for it. */
  private readonly pendingChanges = new Map<string, { subscribe: boolean; waiters: Waiter[] }>();
  private flushScheduled = false;
  private readonly routes: WriteRoutes;
  private readonly acked: AckedWrites;
  /** Stores writes in order and answers, in the same order, each one's delivery or why it failed. */
  private readonly store: (writes: ChannelWrite[]) => Promise<Stored[]>;
  private readonly logger = new Logger('Redis');

  constructor(
    private readonly commands: EngineCommands,
    private readonly link: PubSubLink,
    private readonly options: RedisBrokerOptions,
  ) {
    super();
    // One script: on one Redis many writes per call (the key count is the call's first argument); on a
    // cluster one write per call where a node's call could not take it (numberOfKeys lets the cluster
    // client route it by its first key and follow redirections), see publishOnNodes.
    commands.defineCommand('heraldPublish', { numberOfKeys: 3, lua: script('publish.lua') });
    commands.defineCommand('heraldPublishMany', { lua: script('publish.lua') });
    commands.defineCommand('heraldHistory', { numberOfKeys: 2, lua: script('history.lua') });
    commands.defineCommand('heraldEndLife', { numberOfKeys: 2, lua: script('end-life.lua') });
    commands.defineCommand('heraldAcked', { numberOfKeys: 2, lua: script('acked.lua') });
    this.routes = writeRoutes(commands);
    const groups: WriteGroups<ChannelWrite, Stored> = isCluster(commands)
      ? new WriteGroups(WRITES_PER_CALL, (writes) => this.publishOnNodes(commands, writes))
      : new WriteGroups(WRITES_PER_CALL, (writes) => this.publishGroup(writes));
    this.store = (writes) => groups.add(writes);
    this.acked = new AckedWrites(this.routes, {
      verify: (write) => this.verify(write),
      lost: (writes, beyondMemory) => this.lostWrites(writes, beyondMemory),
      failed: (error) =>
        this.logger.warn(
          `checking acknowledged notifications after a failover: ${error instanceof Error ? error.message : String(error)}; retrying`,
        ),
    });
    link.onMessage((pubsubChannel, message) => this.receive(pubsubChannel, message));
    link.onResync((affects) =>
      this.emitResync(affects && ((channel) => affects(channelKeys(channel).pubsub))),
    );
  }

  /** Prepares the link's health probes; call once both clients are connected. */
  async start(): Promise<void> {
    await this.link.start();
  }

  async publishMany(requests: readonly PublishRequest[]): Promise<Delivery[][]> {
    const held = this.options.publishHold?.reason();
    if (held !== undefined) throw new EngineUnavailableError(held);
    const writes: ChannelWrite[] = [];
    for (const { draft, channels, dedupeTtlSeconds = 0 } of requests) {
      const tail = dataTail(draft);
      for (const channel of channels) writes.push({ channel, id: draft.id, tail, dedupeTtlSeconds });
    }
    const stored = await engineCall(() => this.store(writes));
    const failed = stored.find((result) => result instanceof Error);
    if (failed) throw new EngineUnavailableError(failed);
    const deliveries = stored as Delivery[];
    if (this.options.minReplicasAck > 0) await this.awaitReplicas(deliveries);
    let next = 0;
    return requests.map(({ channels }) => deliveries.slice(next, (next += channels.length)));
  }

  async history(channel: string, after: number, limit: number): Promise<HistoryPage> {
    const keys = channelKeys(channel);
    const [epoch, offset, flat] = await engineCall(() =>
      loadedScript(() =>
        this.commands.heraldHistory(
          keys.meta,
          keys.history,
          after,
          limit,
          newEpoch(),
          this.options.historyTtlSeconds,
        ),
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
    return (
      (await engineCall(() =>
        loadedScript(() => this.commands.heraldEndLife(keys.meta, keys.history, epoch)),
      )) === 1
    );
  }

  subscribe(channel: string): Promise<void> {
    return new Promise((resolve, reject) => this.change(channel, true, { resolve, reject }));
  }

  unsubscribe(channel: string): void {
    this.change(channel, false);
  }

  isHealthy(): Promise<boolean> {
    return this.link.isHealthy(this.commands);
  }

  async close(): Promise<void> {
    this.options.publishHold?.close();
    await this.acked.close();
    await Promise.allSettled([this.link.close(), this.commands.quit()]);
    this.commands.disconnect();
  }

  /**
   * On one Redis (or a Sentinel-managed master), one script call per group of writes (see
   * {@link WriteGroups}): one command and one script run for up to {@link WRITES_PER_CALL} writes.
   */
  private async publishGroup(writes: readonly ChannelWrite[]): Promise<Stored[]> {
    const { keys, perWrite } = scriptArguments(writes, false);
    // One Redis: one route, served by the connection the call goes out on.
    const route = this.routes.route(keys[0]);
    const node = this.routes.owner(route) ?? '';
    const reply = await this.commands.heraldPublishMany(keys.length, keys, ...this.callArguments(), perWrite);
    return writes.map((write, w) => this.stored(reply, w, write, route, node));
  }

  /**
   * On a cluster, one script call per master for the writes of the group it serves, sent straight on
   * the cluster client's connection to it, with the keys of its many slots undeclared (see
   * publish.lua). A write whose master has no ready connection, or that its node's call did not run
   * (the slot moved or is moving, the cluster is down: nothing of it ran there), goes out alone through
   * the cluster client, which routes it by its keys and follows MOVED / ASK / TRYAGAIN / CLUSTERDOWN.
   * A node's call that fails (its connection lost) fails only the writes it carried, none sent again.
   */
  private async publishOnNodes(cluster: Cluster, writes: readonly ChannelWrite[]): Promise<Stored[]> {
    const results: Stored[] = new Array<Stored>(writes.length);
    const byNode = new Map<string, number[]>();
    const routes = writes.map(({ channel }) => this.routes.route(channelKeys(channel).meta));
    routes.forEach((route, at) => {
      const node = this.routes.owner(route) ?? '';
      const indexes = byNode.get(node);
      if (indexes) indexes.push(at);
      else byNode.set(node, [at]);
    });
    const connections = masterConnections(cluster);
    const alone: number[] = [];
    const calls = [...byNode].map(async ([node, indexes]) => {
      const connection = connections.get(node);
      if (connection?.status !== 'ready') {
        alone.push(...indexes);
        return;
      }
      const { perWrite } = scriptArguments(
        indexes.map((at) => writes[at]),
        true,
      );
      let reply: PublishReply;
      try {
        reply = await nodeScripts(connection).heraldPublishMany(0, ...this.callArguments(), perWrite);
      } catch (error) {
        for (const at of indexes) results[at] = error instanceof Error ? error : new Error(String(error));
        return;
      }
      indexes.forEach((at, w) => {
        if (reply[2 * w] === NOT_RUN) alone.push(at);
        else results[at] = this.stored(reply, w, writes[at], routes[at], node);
      });
    });
    await Promise.all(calls);
    if (alone.length > 0) {
      // In the order the writes were asked for: two writes to one channel keep their order.
      alone.sort((a, b) => a - b);
      const stored = await Promise.all(alone.map((at) => this.publishAlone(writes[at])));
      alone.forEach((at, i) => (results[at] = stored[i]));
    }
    return results;
  }

  /** One write in a call of its own, through the cluster client (routed by its keys). */
  private async publishAlone(write: ChannelWrite): Promise<Stored> {
    const { keys, perWrite } = scriptArguments([write], false);
    const route = this.routes.route(keys[0]);
    try {
      const reply = await loadedScript(() =>
        this.commands.heraldPublish(...keys, ...this.callArguments(), ...perWrite),
      );
      return this.stored(reply, 0, write, route, this.routes.owner(route) ?? '');
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }

  /** publish.lua's arguments once per call: a new life's epoch, history size and TTL, clock, command. */
  private callArguments(): (string | number)[] {
    const { historySize, historyTtlSeconds } = this.options;
    return [newEpoch(), historySize, historyTtlSeconds, Date.now(), this.link.publishCommand];
  }

  /** Write `w` of a script reply: its delivery (remembered as acknowledged by `node`), or its error. */
  private stored(
    reply: PublishReply,
    w: number,
    { channel, id }: ChannelWrite,
    route: number,
    node: string,
  ): Stored {
    const [offset, epoch] = [reply[2 * w] as number, reply[2 * w + 1] as string];
    if (offset === FAILED) return new Error(`storing a notification in ${channel}: ${epoch}`);
    const delivery = { channel, offset, epoch };
    this.acked.record(node, { route, id, ...delivery });
    return delivery;
  }

  /**
   * REDIS_MIN_REPLICAS_ACK: WAIT on the connection that wrote, per shard written to (one Redis: the one
   * connection), so the 202 follows only writes that replicas hold; fewer → 503 (the notification is
   * stored: a retry under the same Idempotency-Key completes it without a duplicate).
   */
  private async awaitReplicas(deliveries: readonly Delivery[]): Promise<void> {
    const wanted = this.options.minReplicasAck;
    const connections = isCluster(this.commands)
      ? shardConnections(
          this.commands,
          deliveries.map(({ channel }) => channelKeys(channel).meta),
        )
      : [this.commands];
    const acked = await engineCall(() =>
      Promise.all(connections.map((connection) => connection.wait(wanted, REPLICA_ACK_TIMEOUT_MS))),
    );
    const fewest = Math.min(...acked);
    if (fewest < wanted)
      throw new EngineUnavailableError(
        `${fewest} of the ${wanted} replicas REDIS_MIN_REPLICAS_ACK asks for acknowledged the write`,
      );
  }

  private async verify(write: AckedWrite): Promise<Verdict> {
    const keys = channelKeys(write.channel);
    const answer = await engineCall(() =>
      loadedScript(() =>
        this.commands.heraldAcked(
          keys.meta,
          keys.history,
          write.epoch,
          write.offset,
          dataHead(write.id, write.channel),
        ),
      ),
    );
    return answer === 1 ? 'present' : answer === 0 ? 'lost' : 'unknown';
  }

  /**
   * Notifications answered 202 that the node serving their channels now does not hold: each such
   * channel's epoch ends, so that its next notification starts a new one and clients learn of the loss
   * (`recovered: false`) rather than missing it silently. One log line per audit.
   */
  private async lostWrites(writes: readonly AckedWrite[], beyondMemory: boolean): Promise<void> {
    const epochs = new Map<string, string>();
    for (const { channel, epoch } of writes) if (!epochs.has(channel)) epochs.set(channel, epoch);
    const ended = await Promise.all([...epochs].map(([channel, epoch]) => this.endLife(channel, epoch)));
    const endedCount = ended.filter(Boolean).length;
    const names = [...epochs.keys()];
    const listed = names.slice(0, 10).join(', ') + (names.length > 10 ? `, … (${names.length} in all)` : '');
    this.logger.warn(
      `${writes.length} notifications answered 202 are missing on the node that now serves their channels ` +
        `(a failover or restart lost them before they were replicated or persisted)` +
        (names.length > 0 ? `; a new epoch starts on ${listed}` : '') +
        (beyondMemory
          ? `; writes older than the ${WRITES_PER_NODE} remembered per node may be lost too, unannounced`
          : ''),
    );
    if (endedCount > 0) this.options.onLostWrites?.(endedCount);
  }

  private receive(pubsubChannel: string, message: string): void {
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
   * Sends the tick's changes: the unsubscriptions, then the subscriptions (on one connection they take
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
    if (unsubscribe.length > 0)
      this.link.unsubscribe(unsubscribe.map(([channel]) => channelKeys(channel).pubsub));
    if (subscribe.length === 0) return;
    void this.link.subscribe(subscribe.map(([channel]) => channelKeys(channel).pubsub)).then((errors) =>
      subscribe.forEach(([, change], index) => {
        const error = errors[index];
        for (const waiter of change.waiters) {
          if (error) waiter.reject(new EngineUnavailableError(error));
          else waiter.resolve();
        }
      }),
    );
  }
}

/** Hash slots of a Redis Cluster. */
const SLOTS = 16384;

/**
 * Where writes go: on a cluster, a key's hash slot and the master the client's slot map names for it
 * (re-read every second, and at once on a MOVED answer); on one Redis or a Sentinel-managed master,
 * the connection — every reconnect may reach another master (a failover) or a restarted one.
 */
function writeRoutes(commands: EngineCommands): WriteRoutes {
  if (isCluster(commands)) {
    // The map is re-read every second; only a read that changed a slot's master is a change.
    let known: (string | undefined)[] = [];
    const changed = (): boolean => {
      const owners = Array.from({ length: SLOTS }, (_, slot) => commands.slots[slot]?.[0]);
      const differs = owners.some((owner, slot) => owner !== known[slot]);
      known = owners;
      return differs;
    };
    changed();
    return {
      route: (key) => calculateSlot(key),
      owner: (slot) => commands.slots[slot]?.[0],
      onChange: (listener) => commands.on('refresh', () => changed() && listener()),
    };
  }
  let connection = 0;
  let current = 'connection 0';
  const listeners: (() => void)[] = [];
  commands.on('ready', () => {
    current = `connection ${++connection}`;
    listeners.forEach((listener) => listener());
  });
  return {
    route: () => 0,
    owner: () => current,
    onChange: (listener) => listeners.push(listener),
  };
}

/**
 * publish.lua's keys and per-write arguments of the writes; with `keysInArguments` (a cluster node's
 * call) each write's keys lead its arguments instead of being declared.
 */
function scriptArguments(
  writes: readonly ChannelWrite[],
  keysInArguments: boolean,
): { keys: string[]; perWrite: (string | number)[] } {
  const keys: string[] = [];
  const perWrite: (string | number)[] = [];
  for (const { channel, id, tail, dedupeTtlSeconds } of writes) {
    const channelKey = channelKeys(channel);
    const writeKeys = [channelKey.meta, channelKey.history, storedKey(channel, id)];
    if (keysInArguments) perWrite.push(...writeKeys);
    else keys.push(...writeKeys);
    perWrite.push(channelKey.pubsub, dataHead(id, channel), tail, dedupeTtlSeconds);
  }
  return { keys, perWrite };
}

/**
 * A script call, made once more if the node answered NOSCRIPT (the script did not run there, so
 * nothing runs twice). ioredis sends a script as EVAL on a connection's first use of it and EVALSHA
 * after, and falls back to EVAL on NOSCRIPT; but a connection whose EVAL the node refused before
 * running it (TRYAGAIN during a slot migration) stays marked as loaded, and a call that the cluster
 * client redirects inside a pipeline (MOVED, ASK) loses that fallback — the first call after a
 * migration, on the slot's new master, would fail with NOSCRIPT.
 */
async function loadedScript<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('NOSCRIPT')) return call();
    throw error;
  }
}

/** The cluster client's master connections by address (`host:port`, as its slot map names them). */
function masterConnections(cluster: Cluster): Map<string, Redis> {
  return new Map(cluster.nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]));
}

/** Node connections that have publish.lua defined in its cluster-node form. */
const nodesWithScripts = new WeakSet<Redis>();

/** The node connection, with publish.lua in its cluster-node form as heraldPublishMany. */
function nodeScripts(connection: Redis): Redis {
  if (!nodesWithScripts.has(connection)) {
    connection.defineCommand('heraldPublishMany', { lua: nodePublishScript() });
    nodesWithScripts.add(connection);
  }
  return connection;
}

/** The master connections that serve the keys' slots (the ones the writes went out on). */
function shardConnections(cluster: Cluster, keys: readonly string[]): Redis[] {
  const owners = new Set(keys.map((key) => cluster.slots[calculateSlot(key)]?.[0]));
  const masters = masterConnections(cluster);
  return [...owners].map((owner) => {
    const connection = owner === undefined ? undefined : masters.get(owner);
    if (!connection) throw new EngineUnavailableError(`no connection to the master ${owner ?? 'of a slot'}`);
    return connection;
  });
}
