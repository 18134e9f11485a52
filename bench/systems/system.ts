import { randomBytes } from 'node:crypto';
import { connectionTarget } from '../load/connection';
import type { ClientSpec } from '../load/protocol';
import { errorMessage } from '../support/clock';
import { waitForOk } from '../support/http';
import { freePort, Managed, spawnManaged } from '../support/processes';
import { BenchEngine, EngineKind, startSingleRedis } from '../support/redis';
import { startRedisCluster } from '../support/redis-cluster';

/** `bare` is bench/bare-herald (the instruction-count prototype); the workloads run the other three. */
export type SystemName = 'herald' | 'peer' | 'floor' | 'bare';
export const SYSTEM_NAMES: readonly SystemName[] = ['herald', 'peer', 'floor'];

/** One system under test, started: its own fresh Redis (or Redis Cluster) and `replicas` server processes. */
export interface RunningSystem {
  readonly name: SystemName;
  readonly ports: number[];
  /** Replica process ids, in replica order. */
  readonly pids: number[];
  readonly engine: BenchEngine;
  /** How a load-generator client connects (serializable: it is sent to the worker processes). */
  readonly client: ClientSpec;
  readonly apiKey: string;
  publishUrl(replica: number): string;
  batchUrl(replica: number): string;
  /** A client's WebSocket URL (for the peer the token travels in the CONNECT packet, not the URL). */
  wsUrl(user: string, replica: number): string;
  /** Stops the replicas, then Redis. */
  stop(): Promise<void>;
}

export interface SystemAdapter {
  readonly name: SystemName;
  /** Why the system cannot run here (e.g. not built), or undefined. */
  unavailable(): string | undefined;
  /** The engines it can run on. */
  readonly engines: readonly EngineKind[];
  /** `label` names the log files (bench/dist/logs/<label>-<system>-*.log). */
  start(replicas: number, label: string, engine?: EngineKind, wrap?: ReplicaWrap): Promise<RunningSystem>;
}

/**
 * Runs a replica under another program (bench/callgrind: valgrind): the command line that replaces
 * `command args`, how long its start may take, and variables added to its environment; undefined
 * leaves the replica as it is.
 */
export type ReplicaWrap = (
  replica: number,
  command: string,
  args: string[],
) => { command: string; args: string[]; startTimeoutMs: number; env?: Record<string, string> } | undefined;

/** How to launch one replica of a system; everything else about starting one is shared. */
export interface ReplicaLaunch {
  name: SystemName;
  command: string;
  args: string[];
  /** The bench's own node servers get an IPC channel and exit when it closes. */
  ipc: boolean;
  env(port: number, engine: BenchEngine, secrets: Secrets): Record<string, string>;
  client(ports: number[], secrets: Secrets): ClientSpec;
  startTimeoutMs: number;
}

export interface Secrets {
  jwtSecret: string;
  apiKey: string;
}

/** Herald's (and the peer's) variable for the engine: REDIS_URL, or REDIS_CLUSTER_NODES for a cluster. */
export function engineEnv(engine: BenchEngine): Record<string, string> {
  return engine.kind === 'cluster' ? { REDIS_CLUSTER_NODES: engine.address } : { REDIS_URL: engine.address };
}

/** Masters of a bench cluster (the scale-out figure is for 3). */
export const CLUSTER_MASTERS = 3;

/** The environment every replica of every system starts from: nothing inherited but PATH and HOME. */
function baseEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    NODE_ENV: 'production',
  };
}

/**
 * BENCH_NODE_ARGS: extra arguments for every server process run by Node (not the load generator),
 * e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` (each replica writes its profile when stopped).
 */
function nodeArgs(launch: ReplicaLaunch): string[] {
  const extra = process.env.BENCH_NODE_ARGS;
  return extra && launch.command === process.execPath ? extra.split(' ').filter(Boolean) : [];
}

async function startReplica(
  launch: ReplicaLaunch,
  label: string,
  engine: BenchEngine,
  secrets: Secrets,
  wrapped?: ReturnType<ReplicaWrap>,
): Promise<[number, Managed]> {
  const port = await freePort();
  const args = [...nodeArgs(launch), ...launch.args];
  const proc = spawnManaged(label, wrapped?.command ?? launch.command, wrapped?.args ?? args, {
    env: { ...baseEnv(), ...launch.env(port, engine, secrets), ...wrapped?.env },
    ipc: launch.ipc,
  });
  try {
    await waitForOk(
      `http://127.0.0.1:${port}/health/ready`,
      wrapped?.startTimeoutMs ?? launch.startTimeoutMs,
      () =>
        proc.child.exitCode !== null || proc.child.signalCode !== null
          ? `exited with ${proc.child.exitCode ?? proc.child.signalCode}`
          : undefined,
    );
  } catch (err) {
    await proc.stop(1000);
    throw new Error(
      `${label} did not become ready: ${errorMessage(err)}\n--- ${proc.logFile}:\n${proc.logTail()}`,
      {
        cause: err,
      },
    );
  }
  return [port, proc];
}

export async function startReplicated(
  launch: ReplicaLaunch,
  replicas: number,
  label: string,
  engineKind: EngineKind = 'redis',
  wrap?: ReplicaWrap,
): Promise<RunningSystem> {
  const secrets: Secrets = {
    jwtSecret: randomBytes(24).toString('hex'),
    apiKey: randomBytes(16).toString('hex'),
  };
  const engine =
    engineKind === 'cluster'
      ? await startRedisCluster(`${label}-${launch.name}-cluster`, CLUSTER_MASTERS)
      : await startSingleRedis(`${label}-${launch.name}-redis`);
  const started: Managed[] = [];
  const ports: number[] = [];
  const attempts = await Promise.allSettled(
    Array.from({ length: replicas }, (_, i) =>
      startReplica(
        launch,
        `${label}-${launch.name}-${i}`,
        engine,
        secrets,
        wrap?.(i, launch.command, [...nodeArgs(launch), ...launch.args]),
      ),
    ),
  );
  for (const attempt of attempts) {
    if (attempt.status === 'fulfilled') {
      ports.push(attempt.value[0]);
      started.push(attempt.value[1]);
    }
  }
  const failure = attempts.find((a): a is PromiseRejectedResult => a.status === 'rejected');
  if (failure) {
    await Promise.all(started.map((p) => p.stop(1000)));
    await engine.stop();
    throw failure.reason;
  }
  const client = launch.client(ports, secrets);
  const base = (replica: number): string => `http://127.0.0.1:${ports[replica]}`;
  return {
    name: launch.name,
    ports,
    pids: started.map((p) => p.pid),
    engine,
    client,
    apiKey: secrets.apiKey,
    publishUrl: (replica) => `${base(replica)}/v1/notifications`,
    batchUrl: (replica) => `${base(replica)}/v1/notifications/batch`,
    wsUrl: (user, replica) => connectionTarget(client, user, replica).url,
    async stop() {
      await Promise.all(started.map((p) => p.stop(5000)));
      await engine.stop();
    },
  };
}
