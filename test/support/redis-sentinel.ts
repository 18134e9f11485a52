import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { infoField, NodeClients, onFreePorts, RedisProcess, spawnRedisServer } from './redis-process';
import { waitUntil } from './wait';

const HOST = '127.0.0.1';
const MASTER_NAME = 'herald';
/** Start-up of every data node and Sentinel until the Sentinels agree and see each other (ms). */
const READY_TIMEOUT_MS = 30_000;
/** From a failover until Sentinel has converted the old master and every replica is in sync (ms). */
const CONVERGE_TIMEOUT_MS = 40_000;

export interface SentinelOptions {
  replicas?: number;
  sentinels?: number;
  /**
   * `down-after-milliseconds`: how long the master may be silent before a Sentinel calls it down.
   * Twice the Sentinels' 1 s ping and reconnect period by default: at 1000 they now and then called a
   * master down 1.0 s after promoting it (its link was new, its first PONG not yet in) and started
   * another failover.
   */
  downAfterMs?: number;
  /** `failover-timeout` (ms). */
  failoverTimeoutMs?: number;
  /**
   * Name every data node `localhost` instead of its address, as docker-compose.sentinel.yml names
   * containers: the replicas announce it (`replica-announce-ip`), the Sentinels monitor and announce
   * names (`resolve-hostnames`, `announce-hostnames`), so what they tell clients is a host name.
   */
  hostnames?: boolean;
}

/** A process of the deployment: a data node (master or replica) or a Sentinel. */
export interface SentinelDeploymentProcess {
  kind: 'data' | 'sentinel';
  port: number;
  pid: number;
  alive: boolean;
}

export interface TestRedisSentinel {
  /** The Sentinels as `host:port,…`: the form of REDIS_SENTINELS. */
  sentinels: string;
  /** The monitored master group (REDIS_SENTINEL_MASTER). */
  masterName: string;
  /** The port of the master every Sentinel names now. */
  masterPort(): Promise<number>;
  processes(): SentinelDeploymentProcess[];
  /** An ioredis client in Sentinel mode (ready), for writes and assertions; closed by stop(). */
  client(): Promise<Redis>;
  /** A plain connection to one data node or Sentinel; closed by stop(). */
  nodeClient(port: number): Redis;
  /**
   * SENTINEL FAILOVER: resolves once every Sentinel names a new master and it answers as one. The old
   * master keeps answering as a master until Sentinel converts it to a replica, about 10 s later (it
   * waits 4 × the 2 s hello period after seeing the role, and polls a replica's INFO every 10 s); await
   * converged() for that.
   */
  failover(): Promise<{ from: number; to: number }>;
  /**
   * SIGKILLs the master; resolves as failover() does, after down-after-milliseconds and an election.
   * Needs a replica in sync (after a failover, await converged() first).
   */
  killMaster(): Promise<{ killed: number; promoted: number }>;
  /**
   * Waits until every live data node but the master replicates it in sync, every Sentinel lists them
   * as such, sees the other Sentinels and can reach the quorum (the state start-up ends in).
   */
  converged(): Promise<void>;
  /** Closes the clients, kills every process and removes their data. */
  stop(): Promise<void>;
}

interface Started {
  kind: 'data' | 'sentinel';
  server: RedisProcess;
  dir: string;
}

/**
 * Starts a Sentinel deployment of the test's own: one master, `replicas` replicas and `sentinels`
 * Sentinels monitoring it as `herald` with a majority quorum, every process on free ports of 127.0.0.1
 * with its own directory (the Sentinels rewrite their config files there).
 */
export async function startRedisSentinel(options: SentinelOptions = {}): Promise<TestRedisSentinel> {
  const { replicas = 1, sentinels = 3, downAfterMs = 2000, failoverTimeoutMs = 5000, hostnames } = options;
  const dataHost = hostnames ? 'localhost' : HOST;
  const quorum = Math.floor(sentinels / 2) + 1;
  const started: Started[] = [];
  const admin = new NodeClients();
  const clients: Redis[] = [];

  const stop = async () => {
    await Promise.all(clients.splice(0).map((client) => client.quit().catch(() => client.disconnect())));
    admin.closeAll();
    await Promise.all(started.map(({ server }) => server.kill()));
    for (const { dir } of started) rmSync(dir, { recursive: true, force: true });
  };

  const ports = (kind: Started['kind'], alive = true) =>
    started
      .filter((entry) => entry.kind === kind && (!alive || entry.server.alive()))
      .map(({ server }) => server.port);

  const startProcess = (
    kind: Started['kind'],
    args: (port: number, dir: string) => string[],
    readyLine?: string,
  ) =>
    onFreePorts(1, async ([port]) => {
      const dir = mkdtempSync(join(tmpdir(), `herald-redis-${kind}-`));
      try {
        const server = await spawnRedisServer(args(port, dir), port, readyLine);
        started.push({ kind, server, dir });
        return port;
      } catch (error) {
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
    });

  const dataNode = (replicaOf?: number) =>
    startProcess('data', (port, dir) => [
      ...['--port', String(port), '--bind', HOST, '--dir', dir],
      ...['--save', '', '--appendonly', 'no', '--repl-diskless-sync-delay', '0'],
      ...(replicaOf === undefined ? [] : ['--replicaof', dataHost, String(replicaOf)]),
      ...(hostnames ? ['--replica-announce-ip', dataHost] : []),
    ]);

  const sentinel = (masterPort: number) =>
    startProcess(
      'sentinel',
      (port, dir) => {
        const config = join(dir, 'sentinel.conf');
        writeFileSync(
          config,
          [
            `port ${port}`,
            `bind ${HOST}`,
            `dir ${dir}`,
            ...(hostnames ? ['sentinel resolve-hostnames yes', 'sentinel announce-hostnames yes'] : []),
            `sentinel monitor ${MASTER_NAME} ${dataHost} ${masterPort} ${quorum}`,
            `sentinel down-after-milliseconds ${MASTER_NAME} ${downAfterMs}`,
            `sentinel failover-timeout ${MASTER_NAME} ${failoverTimeoutMs}`,
            `sentinel parallel-syncs ${MASTER_NAME} ${replicas}`,
            '',
          ].join('\n'),
        );
        return [config, '--sentinel'];
      },
      `+monitor master ${MASTER_NAME}`,
    );

  /** The master port each live Sentinel names (undefined for one that does not answer). */
  const namedMasters = () =>
    Promise.all(
      ports('sentinel').map(async (port) => {
        const address = await admin.tryCall<string[] | null>(
          port,
          'SENTINEL',
          'GET-MASTER-ADDR-BY-NAME',
          MASTER_NAME,
        );
        return address ? Number(address[1]) : undefined;
      }),
    );

  /** Every live Sentinel names `master`, and it answers as a master. */
  const announced = async (master: number): Promise<boolean> => {
    if (!(await namedMasters()).every((port) => port === master)) return false;
    const replication = await admin.tryCall<string>(master, 'INFO', 'replication');
    return replication !== undefined && infoField(replication, 'role') === 'master';
  };

  /** announced(master), and every other live data node replicates it in sync and is seen so by every Sentinel. */
  const agreed = async (master: number): Promise<boolean> => {
    if (!(await announced(master))) return false;
    const others = ports('data').filter((port) => port !== master);
    for (const port of others) {
      const info = await admin.tryCall<string>(port, 'INFO', 'replication');
      if (info === undefined || infoField(info, 'master_port') !== String(master)) return false;
      if (infoField(info, 'master_link_status') !== 'up') return false;
    }
    for (const port of ports('sentinel')) {
      const quorumCheck = await admin.tryCall<string>(port, 'SENTINEL', 'CKQUORUM', MASTER_NAME);
      if (!quorumCheck?.startsWith('OK')) return false;
      const seen = (await admin.tryCall<unknown[]>(port, 'SENTINEL', 'REPLICAS', MASTER_NAME)) ?? [];
      const inSync = seen
        .map(fields)
        .filter((replica) => replica.flags === 'slave' && replica['master-link-status'] === 'ok');
      if (!others.every((other) => inSync.some((replica) => replica.port === String(other)))) return false;
      const peers = (await admin.tryCall<unknown[]>(port, 'SENTINEL', 'SENTINELS', MASTER_NAME)) ?? [];
      if (peers.map(fields).filter((peer) => peer.flags === 'sentinel').length < ports('sentinel').length - 1)
        return false;
    }
    return true;
  };

  const masterPort = async () => {
    const named = await namedMasters();
    const [first] = named;
    if (first === undefined || !named.every((port) => port === first))
      throw new Error(`the Sentinels do not agree on the master: ${named.join(', ')}`);
    return first;
  };

  /** Waits until every Sentinel names a master other than `from` and it answers as one. */
  const waitNewMaster = (from: number, timeoutMs: number) =>
    waitUntil(
      async () => {
        const [named] = await namedMasters();
        return named !== undefined && named !== from && (await announced(named)) ? named : undefined;
      },
      timeoutMs,
      `the Sentinels to promote a replica of ${from}`,
      50,
    );
  const recoveryTimeoutMs = downAfterMs + 2 * failoverTimeoutMs + 10_000;

  try {
    const master = await dataNode();
    for (let i = 0; i < replicas; i++) await dataNode(master);
    for (let i = 0; i < sentinels; i++) await sentinel(master);
    await waitUntil(() => agreed(master), READY_TIMEOUT_MS, 'the Sentinels to agree on the master', 50);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    sentinels: ports('sentinel', false)
      .map((port) => `${HOST}:${port}`)
      .join(','),
    masterName: MASTER_NAME,
    masterPort,
    processes: () =>
      started.map(({ kind, server }) => ({
        kind,
        port: server.port,
        pid: server.pid,
        alive: server.alive(),
      })),
    client: async () => {
      const client = new Redis({
        sentinels: ports('sentinel', false).map((port) => ({ host: HOST, port })),
        name: MASTER_NAME,
        maxRetriesPerRequest: 1,
      });
      client.on('error', () => undefined);
      clients.push(client);
      await waitUntil(() => client.status === 'ready', 10_000, 'the Sentinel-mode client ready');
      return client;
    },
    nodeClient: (port) => admin.get(port),
    failover: async () => {
      const from = await masterPort();
      await admin.get(ports('sentinel')[0]).call('SENTINEL', 'FAILOVER', MASTER_NAME);
      return { from, to: await waitNewMaster(from, recoveryTimeoutMs) };
    },
    killMaster: async () => {
      const killed = await masterPort();
      const replication = (await admin.tryCall<string>(killed, 'INFO', 'replication')) ?? '';
      if (Number(infoField(replication, 'connected_slaves') ?? 0) === 0)
        throw new Error(
          `master ${killed} has no replica to promote (after a failover, await converged() first)`,
        );
      await started.find(({ kind, server }) => kind === 'data' && server.port === killed)?.server.kill();
      admin.close(killed);
      return { killed, promoted: await waitNewMaster(killed, recoveryTimeoutMs) };
    },
    converged: async () => {
      await waitUntil(
        async () => agreed(await masterPort()),
        CONVERGE_TIMEOUT_MS,
        'the deployment to converge',
        50,
      );
    },
    stop,
  };
}

/** A Sentinel's description of an instance: a flat `[name, value, …]` array (ioredis' default reply shape). */
function fields(entry: unknown): Record<string, string> {
  const result: Record<string, string> = {};
  if (!Array.isArray(entry)) return result;
  for (let i = 0; i + 1 < entry.length; i += 2) result[String(entry[i])] = String(entry[i + 1]);
  return result;
}
