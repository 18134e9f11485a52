import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import Redis from 'ioredis';
import { sleep } from './clock';
import { freePort, Managed, spawnManaged } from './processes';

/**
 * How a system reaches Redis: one redis-server, or a Redis Cluster; either is this run's own, fresh,
 * with no persistence, on free ports of 127.0.0.1.
 */
export type EngineKind = 'redis' | 'cluster';

export interface BenchEngine {
  readonly kind: EngineKind;
  /** `redis://127.0.0.1:<port>` (one Redis) or the seeds `127.0.0.1:<port>,…` (cluster: every master). */
  readonly address: string;
  /** The data nodes (a cluster's masters), in port order. */
  readonly nodes: ReadonlyArray<{ port: number; pid: number }>;
  stop(): Promise<void>;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data: Buffer) => done(data.toString('latin1').startsWith('+PONG')));
  });
}

/**
 * How to run redis-server under a tool (valgrind): the command and arguments that replace
 * `redis-server <args>`.
 */
export type RedisWrap = (args: string[]) => { command: string; args: string[] };

/** Starts redis-server with `args` added to the bench's defaults (under `wrap` if given) and waits for its PING. */
export async function spawnRedisServer(
  label: string,
  port: number,
  args: string[],
  wrap?: RedisWrap,
): Promise<Managed> {
  const serverArgs = [
    ...['--port', String(port), '--bind', '127.0.0.1'],
    ...['--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'],
    ...args,
  ];
  const launch = wrap ? wrap(serverArgs) : { command: 'redis-server', args: serverArgs };
  const proc = spawnManaged(label, launch.command, launch.args);
  // Under valgrind a start takes seconds.
  const startTimeoutMs = wrap ? 60_000 : 10_000;
  const deadline = Date.now() + startTimeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`redis-server exited at start:\n${proc.logTail()}`);
    if (await ping(port)) return proc;
    await sleep(50);
  }
  await proc.stop(1000);
  throw new Error(`redis-server on port ${port} did not answer PING within ${startTimeoutMs / 1000} s`);
}

/** One redis-server. */
export async function startSingleRedis(label: string, wrap?: RedisWrap): Promise<BenchEngine> {
  const port = await freePort();
  const proc = await spawnRedisServer(label, port, [], wrap);
  return {
    kind: 'redis',
    address: `redis://127.0.0.1:${port}`,
    nodes: [{ port, pid: proc.pid }],
    stop: () => proc.stop(2000),
  };
}

/** A short-lived connection to one node for a few admin commands; always closed. */
export async function withNode<T>(port: number, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

/** One `name:value` field of an INFO or CLUSTER INFO reply (undefined when absent). */
export function infoField(text: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(text)?.[1]?.trim();
}

export function redisVersion(): string {
  try {
    const out = execFileSync('redis-server', ['--version'], { encoding: 'utf8' });
    return /v=(\S+)/.exec(out)?.[1] ?? out.trim();
  } catch {
    return 'unknown';
  }
}
