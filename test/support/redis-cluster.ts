import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis, { Cluster, ClusterOptions } from 'ioredis';
import { infoField, NodeClients, onFreePorts, RedisProcess, spawnRedisServer } from './redis-process';
import { sleep, waitUntil } from './wait';

const HOST = '127.0.0.1';
const SLOTS = 16384;
/** Start-up of every node, `--cluster create` and the first full sync of every replica (ms). */
const READY_TIMEOUT_MS = 30_000;
/** A fault (failover, migration, stall) until the cluster is healthy again, beyond any stall (ms). */
const RECOVERY_TIMEOUT_MS = 20_000;

/** One node as the cluster reports it now (CLUSTER NODES), with the process behind it. */
export interface RedisClusterNode {
  id: string;
  port: number;
  role: 'master' | 'replica';
  /** For a replica, the id of the master it replicates. */
  masterId?: string;
  /** For a master, the slot ranges it serves, `[first, last]` inclusive. */
  slots: Array<[number, number]>;
  /** The cluster marks it failed (`fail` flag). */
  failed: boolean;
  pid: number;
  /** Whether its process still runs (false once killed by killMaster or stop). */
  alive: boolean;
}

export interface RedisClusterOptions {
  masters?: number;
  replicasPerMaster?: number;
  /** `cluster-node-timeout`: how long a silent master stays up before its replica takes over (ms). */
  nodeTimeoutMs?: number;
}

/** A slot number, or a key whose slot is meant (CLUSTER KEYSLOT; `{tag}` hash tags apply). */
export type SlotOrKey = number | string;

export interface TestRedisCluster {
  /** Every node as `host:port,…`: the form of REDIS_CLUSTER_NODES. */
  seeds: string;
  /** The topology now, as a live node reports it, ordered by port. */
  nodes(): Promise<RedisClusterNode[]>;
  /** The master serving the slot now. */
  masterOf(slotOrKey: SlotOrKey): Promise<RedisClusterNode>;
  keySlot(key: string): Promise<number>;
  /**
   * An ioredis Cluster client on the seeds (ready), for writes and assertions; `options` add to or
   * override `maxRetriesPerRequest: 1` (e.g. `shardedSubscribers: true`). Closed by stop().
   */
  client(options?: ClusterOptions): Promise<Cluster>;
  /** A plain connection to one node, for commands a Cluster client would route elsewhere; closed by stop(). */
  nodeClient(port: number): Redis;
  /**
   * SIGKILLs the master serving the slot; resolves once one of its replicas serves the slot and every
   * live node reports the cluster ok (about node-timeout + 1.5 s). The killed node stays down.
   */
  killMaster(slotOrKey: SlotOrKey): Promise<{ killed: RedisClusterNode; promoted: RedisClusterNode }>;
  /**
   * A manual failover (CLUSTER FAILOVER on a replica of the slot's master); resolves once the replica
   * serves the slot, the old master replicates it and the cluster is healthy.
   */
  failover(slotOrKey: SlotOrKey): Promise<{ demoted: RedisClusterNode; promoted: RedisClusterNode }>;
  /**
   * Blocks a node for `seconds` (DEBUG SLEEP); resolves once it has woken and the cluster is healthy.
   * A stall longer than node-timeout gets a master's replica promoted and the master woken as a replica.
   * Start it without awaiting to act during the stall.
   */
  stall(port: number, seconds: number): Promise<void>;
  /**
   * Moves one slot to another master by hand: IMPORTING/MIGRATING, MIGRATE of its keys, then the slot
   * is held open (keys moved, ownership not yet) for `holdOpenMs` and while `whileOpen` runs, then
   * SETSLOT NODE on the target, the source and every other master. Resolves once every live node
   * reports the target as the owner.
   */
  migrateSlot(
    slot: number,
    toNodeId: string,
    options?: { holdOpenMs?: number; whileOpen?: () => Promise<void> },
  ): Promise<void>;
  /** Closes the clients, kills every node and removes their data. */
  stop(): Promise<void>;
}

interface NodeProcess {
  server: RedisProcess;
  dir: string;
}

const exec = promisify(execFile);

/**
 * Starts a Redis Cluster of the test's own: `masters` masters with `replicasPerMaster` replicas each,
 * every node a `redis-server` on free ports of 127.0.0.1 with its own data directory.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<TestRedisCluster> {
  const { masters = 3, replicasPerMaster = 1, nodeTimeoutMs = 2000 } = options;
  if (masters < 3) throw new Error('redis-cli --cluster create needs at least 3 masters');
  const processes = new Map<number, NodeProcess>();
  const admin = new NodeClients();
  const clusterClients: Cluster[] = [];

  const stop = async () => {
    await Promise.all(
      clusterClients.splice(0).map((client) => client.quit().catch(() => client.disconnect())),
    );
    admin.closeAll();
    await Promise.all([...processes.values()].map(({ server }) => server.kill()));
    for (const { dir } of processes.values()) rmSync(dir, { recursive: true, force: true });
  };

  const live = () =>
    [...processes.values()].filter(({ server }) => server.alive()).map(({ server }) => server.port);

  /** CLUSTER NODES of every live node that answers. */
  const views = async (): Promise<Array<{ port: number; nodes: ParsedNode[] }>> => {
    const answers = await Promise.all(
      live().map(async (port) => {
        const text = await admin.tryCall<string>(port, 'CLUSTER', 'NODES');
        return text === undefined ? undefined : { port, nodes: parseClusterNodes(text) };
      }),
    );
    return answers.filter((answer) => answer !== undefined);
  };

  const withProcess = (node: ParsedNode): RedisClusterNode => {
    const server = processes.get(node.port)?.server;
    if (!server) throw new Error(`node ${node.id} on ${node.port} is not one of this cluster's`);
    return { ...node, pid: server.pid, alive: server.alive() };
  };

  const nodes = async () => {
    const [view] = await views();
    if (!view) throw new Error('no node of the cluster answers');
    return view.nodes.map(withProcess).sort((a, b) => a.port - b.port);
  };

  const keySlot = async (key: string) => {
    for (const port of live()) {
      const slot = await admin.tryCall<number>(port, 'CLUSTER', 'KEYSLOT', key);
      if (slot !== undefined) return slot;
    }
    throw new Error('no node of the cluster answers');
  };
  const slotOf = (slotOrKey: SlotOrKey) =>
    typeof slotOrKey === 'number' ? Promise.resolve(slotOrKey) : keySlot(slotOrKey);

  const masterOf = async (slotOrKey: SlotOrKey) => {
    const slot = await slotOf(slotOrKey);
    const owner = ownerOf(await nodes(), slot);
    if (!owner) throw new Error(`no master serves slot ${slot}`);
    return withProcess(owner);
  };

  /**
   * Every live node answers and reports cluster_state:ok, every replica's link to its master is up (a
   * replica that just got one syncs first), and every live node's view of every live node matches what
   * that node says of itself (role, and for a replica its master); with `replicas`, every view also
   * counts that many replicas (right after `--cluster create`, views still lag behind).
   */
  const healthy = async (replicas?: number): Promise<boolean> => {
    const ports = live();
    const reports = await Promise.all(
      ports.map(async (port) => {
        const info = await admin.tryCall<string>(port, 'CLUSTER', 'INFO');
        const replication = await admin.tryCall<string>(port, 'INFO', 'replication');
        const text = await admin.tryCall<string>(port, 'CLUSTER', 'NODES');
        if (info === undefined || replication === undefined || text === undefined) return undefined;
        const replica = infoField(replication, 'role') === 'slave';
        return {
          port,
          ok: infoField(info, 'cluster_state') === 'ok',
          role: replica ? 'replica' : 'master',
          masterPort: replica ? Number(infoField(replication, 'master_port')) : undefined,
          inSync: !replica || infoField(replication, 'master_link_status') === 'up',
          view: parseClusterNodes(text),
        };
      }),
    );
    const answered = reports.filter((report) => report !== undefined);
    if (answered.length < ports.length || !answered.every(({ ok, inSync }) => ok && inSync)) return false;
    return answered.every(({ view }) => {
      if (replicas !== undefined && view.filter((node) => node.role === 'replica').length !== replicas)
        return false;
      return answered.every((self) => {
        const node = view.find((entry) => entry.port === self.port);
        if (!node || node.failed || node.role !== self.role) return false;
        return (
          self.role === 'master' || view.find((entry) => entry.id === node.masterId)?.port === self.masterPort
        );
      });
    });
  };
  const waitHealthy = (timeoutMs: number, what: string, replicas?: number) =>
    waitUntil(() => healthy(replicas), timeoutMs, what, 50);

  /** Waits until every live node names `port`'s node as the master serving `slot`. */
  const waitOwner = (slot: number, port: number, timeoutMs: number) =>
    waitUntil(
      async () => {
        const seen = await views();
        return (
          seen.length === live().length && seen.every(({ nodes: view }) => ownerOf(view, slot)?.port === port)
        );
      },
      timeoutMs,
      `every node to see ${port} serve slot ${slot}`,
      50,
    );

  const replicaOf = async (master: RedisClusterNode) => {
    const replica = (await nodes()).find((node) => node.masterId === master.id && node.alive && !node.failed);
    if (!replica) throw new Error(`master ${master.port} has no live replica to promote`);
    return replica;
  };

  const startNode = () =>
    onFreePorts(2, async ([port, busPort]) => {
      const dir = mkdtempSync(join(tmpdir(), 'herald-redis-cluster-'));
      try {
        const server = await spawnRedisServer(
          [
            ...['--port', String(port), '--bind', HOST, '--dir', dir],
            ...['--cluster-enabled', 'yes', '--cluster-port', String(busPort)],
            ...['--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(nodeTimeoutMs)],
            ...['--save', '', '--appendonly', 'no', '--repl-diskless-sync-delay', '0'],
            ...['--enable-debug-command', 'local'],
          ],
          port,
        );
        processes.set(port, { server, dir });
      } catch (error) {
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
    });

  try {
    await Promise.all(Array.from({ length: masters * (1 + replicasPerMaster) }, startNode));
    const addresses = [...processes.keys()].map((port) => `${HOST}:${port}`);
    await exec(
      'redis-cli',
      ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'],
      { timeout: READY_TIMEOUT_MS },
    );
    await waitHealthy(
      READY_TIMEOUT_MS,
      'every cluster node ok and every replica in sync',
      masters * replicasPerMaster,
    );
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    seeds: [...processes.keys()].map((port) => `${HOST}:${port}`).join(','),
    nodes,
    masterOf,
    keySlot,
    client: async (clientOptions = {}) => {
      const client = new Cluster(
        [...processes.keys()].map((port) => ({ host: HOST, port })),
        { ...clientOptions, redisOptions: { maxRetriesPerRequest: 1, ...clientOptions.redisOptions } },
      );
      client.on('error', () => undefined);
      clusterClients.push(client);
      await waitUntil(() => client.status === 'ready', 10_000, 'the cluster client ready');
      return client;
    },
    nodeClient: (port) => admin.get(port),

    killMaster: async (slotOrKey) => {
      const slot = await slotOf(slotOrKey);
      const killed = await masterOf(slot);
      const candidates = (await nodes())
        .filter((node) => node.masterId === killed.id)
        .map((node) => node.port);
      if (candidates.length === 0) throw new Error(`master ${killed.port} has no replica to promote`);
      await processes.get(killed.port)?.server.kill();
      admin.close(killed.port);
      const promotedPort = await waitUntil(
        async () => {
          const owner = (await views())[0]?.nodes.find(
            (node) => node.port !== killed.port && serves(node, slot),
          );
          return owner && candidates.includes(owner.port) ? owner.port : undefined;
        },
        nodeTimeoutMs + RECOVERY_TIMEOUT_MS,
        `a replica of ${killed.port} to serve slot ${slot}`,
        50,
      );
      await waitOwner(slot, promotedPort, RECOVERY_TIMEOUT_MS);
      await waitHealthy(RECOVERY_TIMEOUT_MS, `the cluster ok after killing ${killed.port}`);
      return { killed: { ...killed, alive: false }, promoted: await masterOf(slot) };
    },

    failover: async (slotOrKey) => {
      const slot = await slotOf(slotOrKey);
      const demoted = await masterOf(slot);
      const replica = await replicaOf(demoted);
      await admin.get(replica.port).call('CLUSTER', 'FAILOVER');
      await waitOwner(slot, replica.port, RECOVERY_TIMEOUT_MS);
      await waitHealthy(RECOVERY_TIMEOUT_MS, `the cluster healthy after failing over ${demoted.port}`);
      const after = await nodes();
      const find = (port: number) => after.find((node) => node.port === port) ?? demoted;
      return { demoted: find(demoted.port), promoted: find(replica.port) };
    },

    stall: async (port, seconds) => {
      // A connection of its own: DEBUG SLEEP answers only when the node wakes, and nothing may time it out.
      const sleeper = new Redis({ host: HOST, port, lazyConnect: true });
      sleeper.on('error', () => undefined);
      try {
        await sleeper.connect();
        await sleeper.call('DEBUG', 'SLEEP', String(seconds));
      } finally {
        sleeper.disconnect();
      }
      await waitHealthy(RECOVERY_TIMEOUT_MS, `the cluster healthy after stalling ${port} for ${seconds} s`);
    },

    migrateSlot: async (slot, toNodeId, { holdOpenMs = 0, whileOpen } = {}) => {
      const source = await masterOf(slot);
      const all = await nodes();
      const target = all.find((node) => node.id === toNodeId);
      if (!target || target.role !== 'master') throw new Error(`${toNodeId} is not a master of this cluster`);
      if (target.id === source.id) throw new Error(`slot ${slot} is already served by ${toNodeId}`);
      const src = admin.get(source.port);
      const dst = admin.get(target.port);
      await dst.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', source.id);
      await src.call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', target.id);
      for (;;) {
        const keys = (await src.call('CLUSTER', 'GETKEYSINSLOT', String(slot), '100')) as string[];
        if (keys.length === 0) break;
        await src.call('MIGRATE', HOST, String(target.port), '', '0', '5000', 'KEYS', ...keys);
      }
      if (holdOpenMs > 0) await sleep(holdOpenMs);
      if (whileOpen) await whileOpen();
      // The target first, so that the slot never has no owner; then the source, then every other master.
      const others = all.filter(
        (node) => node.role === 'master' && node.alive && node.id !== source.id && node.id !== target.id,
      );
      for (const node of [target, source, ...others])
        await admin.get(node.port).call('CLUSTER', 'SETSLOT', String(slot), 'NODE', target.id);
      await waitOwner(slot, target.port, RECOVERY_TIMEOUT_MS);
    },

    stop,
  };
}

type ParsedNode = Omit<RedisClusterNode, 'pid' | 'alive'>;

/** Parses CLUSTER NODES: `<id> <ip:port@bus[,host]> <flags> <master|-> <ping> <pong> <epoch> <link> <slot>…`. */
function parseClusterNodes(text: string): ParsedNode[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id, address, flags, master, , , , , ...slotTokens] = line.trim().split(' ');
      const flagList = flags.split(',');
      const port = Number(address.split('@')[0].split(':').pop());
      // `[slot->-id]` / `[slot-<-id]` mark a migration in progress, not ownership.
      const slots = slotTokens
        .filter((token) => !token.startsWith('['))
        .map((token): [number, number] => {
          const [first, last = first] = token.split('-').map(Number);
          return [first, last];
        });
      const role = flagList.includes('master') ? 'master' : 'replica';
      return {
        id,
        port,
        role,
        ...(role === 'replica' && master !== '-' ? { masterId: master } : {}),
        slots,
        failed: flagList.includes('fail'),
      };
    });
}

const serves = (node: ParsedNode, slot: number) =>
  node.role === 'master' && !node.failed && node.slots.some(([first, last]) => slot >= first && slot <= last);

function ownerOf(view: ParsedNode[], slot: number): ParsedNode | undefined {
  if (slot < 0 || slot >= SLOTS) throw new Error(`slot ${slot} is outside 0..${SLOTS - 1}`);
  return view.find((node) => serves(node, slot));
}
