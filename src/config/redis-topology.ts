/** Where a node of a Redis deployment listens. */
export interface RedisNodeAddress {
  host: string;
  port: number;
}

/** Credentials and TLS that apply to the data nodes. */
export interface RedisAuth {
  username?: string;
  password?: string;
  /** `rediss://` seeds: connect with TLS. */
  tls?: boolean;
}

/**
 * The engine's Redis deployment, decided once from REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS
 * (at most one of them): nothing outside the engine module looks at the mode.
 */
export type RedisTopology =
  | { mode: 'single'; url: string; minReplicasAck: number }
  | ({ mode: 'cluster'; seeds: RedisNodeAddress[]; minReplicasAck: number } & RedisAuth)
  | ({
      mode: 'sentinel';
      sentinels: RedisNodeAddress[];
      masterName: string;
      sentinelPassword?: string;
      minReplicasAck: number;
    } & RedisAuth);

export interface RedisTopologyVariables {
  REDIS_URL?: string;
  REDIS_CLUSTER_NODES?: string;
  REDIS_SENTINELS?: string;
  REDIS_SENTINEL_MASTER?: string;
  REDIS_USERNAME?: string;
  REDIS_PASSWORD?: string;
  REDIS_SENTINEL_PASSWORD?: string;
  REDIS_MIN_REPLICAS_ACK: number;
}

/** `host:port` (IPv6 in brackets: `[::1]:7000`). */
function parseAddress(raw: string): RedisNodeAddress | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:/@[\]]+):(\d{1,5})$/.exec(raw);
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
}

/** A cluster seed: `host:port` or `redis[s]://[user:pass@]host:port`, with the credentials it carries. */
function parseSeed(raw: string): (RedisNodeAddress & RedisAuth) | undefined {
  if (!/^rediss?:\/\//.test(raw)) return parseAddress(raw);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  const address = parseAddress(`${url.hostname}:${url.port || '6379'}`);
  if (!address || (url.pathname !== '' && url.pathname !== '/')) return undefined;
  return {
    ...address,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    tls: url.protocol === 'rediss:',
  };
}

/** Returns the topology (undefined: the embedded engine) or the problems, each naming its variable. */
export function parseRedisTopology(env: RedisTopologyVariables): RedisTopology | undefined | string[] {
  const set = (['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'] as const).filter(
    (name) => env[name] !== undefined,
  );
  if (set.length > 1) return [`${set.join(' and ')} are all set: choose one engine mode`];
  const minReplicasAck = env.REDIS_MIN_REPLICAS_ACK;
  const auth: RedisAuth = { username: env.REDIS_USERNAME, password: env.REDIS_PASSWORD };
  if (env.REDIS_URL !== undefined) return { mode: 'single', url: env.REDIS_URL, minReplicasAck };
  if (env.REDIS_SENTINEL_MASTER !== undefined && env.REDIS_SENTINELS === undefined)
    return ['REDIS_SENTINEL_MASTER is set without REDIS_SENTINELS'];
  if (env.REDIS_CLUSTER_NODES !== undefined) {
    const entries = env.REDIS_CLUSTER_NODES.split(',').map((entry) => entry.trim());
    const seeds = entries.map(parseSeed);
    const bad = entries.filter((_, index) => seeds[index] === undefined);
    if (bad.length > 0)
      return [
        `REDIS_CLUSTER_NODES entry ${JSON.stringify(redactSeed(bad[0]))} must be host:port or redis[s]://[user:pass@]host:port`,
      ];
    const valid = seeds as Array<RedisNodeAddress & RedisAuth>;
    const withAuth = valid.find((seed) => seed.username || seed.password || seed.tls);
    return {
      mode: 'cluster',
      seeds: valid.map(({ host, port }) => ({ host, port })),
      username: withAuth?.username ?? auth.username,
      password: withAuth?.password ?? auth.password,
      tls: withAuth?.tls,
      minReplicasAck,
    };
  }
  if (env.REDIS_SENTINELS !== undefined) {
    const entries = env.REDIS_SENTINELS.split(',').map((entry) => entry.trim());
    const sentinels = entries.map(parseAddress);
    const bad = entries.find((_, index) => sentinels[index] === undefined);
    if (bad !== undefined) return [`REDIS_SENTINELS entry ${JSON.stringify(bad)} must be host:port`];
    if (!env.REDIS_SENTINEL_MASTER) return ['REDIS_SENTINEL_MASTER is required with REDIS_SENTINELS'];
    return {
      mode: 'sentinel',
      sentinels: sentinels as RedisNodeAddress[],
      masterName: env.REDIS_SENTINEL_MASTER,
      sentinelPassword: env.REDIS_SENTINEL_PASSWORD,
      ...auth,
      minReplicasAck,
    };
  }
  if (minReplicasAck > 0)
    return [
      'REDIS_MIN_REPLICAS_ACK needs a Redis engine (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS)',
    ];
  return undefined;
}

/** A seed for a message: its password replaced. */
function redactSeed(raw: string): string {
  return raw.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** How the topology is named in logs and the banner (no credentials). */
export function describeTopology(topology: RedisTopology | undefined): string {
  if (!topology) return 'memory';
  if (topology.mode === 'single') return 'redis';
  if (topology.mode === 'cluster') return `redis cluster (${topology.seeds.length} seeds)`;
  return `redis sentinel (master "${topology.masterName}", ${topology.sentinels.length} sentinels)`;
}
