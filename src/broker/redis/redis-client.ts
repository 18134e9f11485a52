import { Logger } from '@nestjs/common';
import type { EventEmitter } from 'node:events';
import Redis, { Cluster, RedisOptions } from 'ioredis';
import type { RedisNodeAddress, RedisTopology } from '../../config/redis-topology';
import type { EngineCommands } from '../../engine/engine-commands';

/** How long a command may take before it fails (and publish answers 503) instead of hanging. */
export const COMMAND_TIMEOUT_MS = 3000;
const CONNECT_TIMEOUT_MS = 5000;
const MAX_RECONNECT_DELAY_MS = 2000;
/** A cluster's slot map is re-read this often, so a change no command ran into is still seen. */
const SLOTS_REFRESH_INTERVAL_MS = 1000;

const reconnectDelay = (attempt: number): number => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS);

/** The variable that names the deployment, for start-up messages. */
export function topologyVariable(topology: RedisTopology): string {
  if (topology.mode === 'single') return `REDIS_URL=${redactUrl(topology.url)}`;
  if (topology.mode === 'cluster')
    return `REDIS_CLUSTER_NODES=${topology.seeds.map(({ host, port }) => `${host}:${port}`).join(',')}`;
  return `REDIS_SENTINELS=${topology.sentinels.map(({ host, port }) => `${host}:${port}`).join(',')} (master "${topology.masterName}")`;
}

export class RedisUnreachableError extends Error {
  constructor(topology: RedisTopology, cause: unknown) {
    super(
      `${topologyVariable(topology)} is unreachable: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
    this.name = 'RedisUnreachableError';
  }
}

/** The URL with any password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<malformed>';
  }
}

/**
 * Options of a command connection: no offline queue and no resending after a reconnect (a publish that
 * fails must fail at once, so that the publisher gets 503 and retries, never a duplicate later).
 */
const COMMAND_OPTIONS: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
  commandTimeout: COMMAND_TIMEOUT_MS,
  connectTimeout: CONNECT_TIMEOUT_MS,
  retryStrategy: reconnectDelay,
};

/** Where a single-Redis or Sentinel-mode connection goes (the Sentinels name the current master). */
function nodeOptions(topology: Exclude<RedisTopology, { mode: 'cluster' }>): RedisOptions | string {
  if (topology.mode === 'single') return topology.url;
  return {
    sentinels: topology.sentinels,
    name: topology.masterName,
    username: topology.username,
    password: topology.password,
    sentinelPassword: topology.sentinelPassword,
    // Reconnect to the new master as soon as the Sentinels announce a failover (+switch-master),
    // and whenever the node we write to turns out to be a replica (a demoted master).
    failoverDetector: true,
    reconnectOnError: (error) => error.message.startsWith('READONLY'),
  };
}

/** Options of one cluster node connection (credentials and TLS of the topology). */
export function clusterNodeOptions(topology: Extract<RedisTopology, { mode: 'cluster' }>): RedisOptions {
  return {
    username: topology.username,
    password: topology.password,
    ...(topology.tls ? { tls: {} } : {}),
  };
}

/**
 * The client for commands. On one Redis (or a Sentinel-managed master) each command is written as it
 * is issued: no auto-pipelining, whose Pipeline per tick (a property getter defined on each one) kept
 * every publish's objects alive past two scavenges, so that they were copied twice and then collected
 * by full GCs — a quarter of a publish's CPU (bench/RESULTS.md, "The GC gap"); Redis reads what queued
 * up in one read anyway. A cluster keeps auto-pipelining for what goes through the cluster client
 * (history reads, presence, a write sent alone): ioredis's Cluster rejects a command sent to a node
 * connection that is still connecting (a node's first burst after a start or a failover) unless it
 * rides a pipeline. Publishes mostly bypass it: the broker sends a master's writes straight on its
 * ready connection (RedisBroker.publishOnNodes). On a cluster, a MOVED / ASK / TRYAGAIN / CLUSTERDOWN
 * answer is retried (the command did not run), but a command whose connection closed is never re-sent
 * elsewhere (it may have run): it fails, and the publisher retries under its Idempotency-Key.
 */
export function createCommandClient(
  topology: RedisTopology,
  logger: Logger,
  onReconnect: () => void,
): EngineCommands {
  if (topology.mode === 'cluster') {
    return withErrorLog(
      new Cluster(topology.seeds, {
        lazyConnect: true,
        enableOfflineQueue: false,
        enableAutoPipelining: true,
        scaleReads: 'master',
        slotsRefreshInterval: SLOTS_REFRESH_INTERVAL_MS,
        slotsRefreshTimeout: 1000,
        retryDelayOnFailover: 0,
        retryDelayOnClusterDown: 100,
        retryDelayOnTryAgain: 100,
        maxRedirections: 16,
        clusterRetryStrategy: reconnectDelay,
        redisOptions: { ...COMMAND_OPTIONS, ...clusterNodeOptions(topology) },
      }),
      'commands',
      logger,
      onReconnect,
    );
  }
  const target = nodeOptions(topology);
  return withErrorLog(
    typeof target === 'string'
      ? new Redis(target, COMMAND_OPTIONS)
      : new Redis({ ...target, ...COMMAND_OPTIONS }),
    'commands',
    logger,
    onReconnect,
  );
}

/** A client for classic pub/sub: it queues (re)subscriptions while disconnected and resubscribes on reconnect. */
export function createSubscriberClient(
  topology: Exclude<RedisTopology, { mode: 'cluster' }>,
  logger: Logger,
  onReconnect: () => void,
): Redis {
  const target = nodeOptions(topology);
  const options: RedisOptions = {
    lazyConnect: true,
    autoResubscribe: true,
    maxRetriesPerRequest: null,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: reconnectDelay,
  };
  return withErrorLog(
    typeof target === 'string' ? new Redis(target, options) : new Redis({ ...target, ...options }),
    'subscriber',
    logger,
    onReconnect,
  );
}

/**
 * A connection to one cluster master for sharded pub/sub. It reconnects by itself but does not
 * resubscribe: the sharded link does, so that it knows when each slot's subscriptions are in effect.
 */
export function createShardSubscriber(address: RedisNodeAddress, options: RedisOptions): Redis {
  return new Redis({
    ...options,
    host: address.host,
    port: address.port,
    lazyConnect: true,
    autoResubscribe: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: null,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: reconnectDelay,
  });
}

/**
 * A connection to each Sentinel of the topology for its failover events (SentinelFailoverHold); it
 * reconnects and resubscribes by itself, and logs each distinct error once.
 */
export function createSentinelWatchers(
  topology: Extract<RedisTopology, { mode: 'sentinel' }>,
  logger: Logger,
): Redis[] {
  return topology.sentinels.map(({ host, port }) =>
    withErrorLog(
      new Redis({
        host,
        port,
        password: topology.sentinelPassword,
        lazyConnect: true,
        autoResubscribe: true,
        maxRetriesPerRequest: null,
        connectTimeout: CONNECT_TIMEOUT_MS,
        retryStrategy: reconnectDelay,
      }),
      `sentinel ${host}:${port}`,
      logger,
      () => undefined,
    ),
  );
}

/** Connects, or fails start-up with a message that names the variable of the deployment. */
export async function connectOrFail(client: EngineCommands | Redis, topology: RedisTopology): Promise<void> {
  // ioredis rejects connect() with a generic "Connection is closed."; the `error` event says why.
  let cause: unknown;
  const remember = (error: Error) => (cause ??= error);
  const events = client as EventEmitter;
  events.on('error', remember);
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw new RedisUnreachableError(topology, cause ?? error);
  } finally {
    events.off('error', remember);
  }
}

/** Logs each distinct error once, and reports every `ready` after the first as a reconnect. */
function withErrorLog<T extends EngineCommands>(
  client: T,
  role: string,
  logger: Logger,
  onReconnect: () => void,
): T {
  let lastLogged = '';
  let connectedBefore = false;
  const events = client as EventEmitter;
  events.on('error', (error: Error) => {
    // ioredis emits the same error on every reconnect attempt; log each distinct one once.
    if (error.message === lastLogged) return;
    lastLogged = error.message;
    logger.warn(`redis ${role}: ${error.message}`);
  });
  events.on('ready', () => {
    lastLogged = '';
    if (connectedBefore) {
      logger.log(`redis ${role}: reconnected`);
      onReconnect();
    }
    connectedBefore = true;
  });
  return client;
}
