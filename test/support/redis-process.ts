import { spawn } from 'node:child_process';
import Redis from 'ioredis';
import { freePort, waitUntil } from './wait';

/** How many times a server is started on fresh ports when the ones picked were taken meanwhile. */
const PORT_ATTEMPTS = 5;
/** How much of a server's output is kept for the message when it fails to start (characters). */
const OUTPUT_TAIL = 4000;

/** A `redis-server` process of a test's own (a data node, a cluster node or a Sentinel). */
export interface RedisProcess {
  port: number;
  pid: number;
  /** Whether the process is still running. */
  alive(): boolean;
  /** Sends `signal` (SIGKILL by default) and waits for the process to exit; a no-op once it has. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Runs `redis-server args…` and waits until its output shows `readyLine` (the server's own line, so
 * what answers on the port is this process and not one that took the port first).
 */
export async function spawnRedisServer(
  args: string[],
  port: number,
  readyLine = 'Ready to accept connections',
): Promise<RedisProcess> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-OUTPUT_TAIL));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (!alive()) return;
    child.kill(signal);
    await exited;
  };
  try {
    await waitUntil(
      () => {
        if (!alive()) throw new Error(`redis-server on ${port} exited (${child.exitCode}): ${output}`);
        return output.includes(readyLine);
      },
      10_000,
      `redis-server on ${port}`,
      20,
    );
  } catch (error) {
    await kill();
    throw error;
  }
  if (child.pid === undefined) throw new Error(`redis-server on ${port} has no pid`);
  return { port, pid: child.pid, alive, kill };
}

/**
 * Calls `start` with `count` free ports on 127.0.0.1, and again with fresh ones if it fails (another
 * process may bind a port between the pick and the server's bind); the last failure is rethrown.
 */
export async function onFreePorts<T>(count: number, start: (ports: number[]) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const ports = await distinctFreePorts(count);
    try {
      return await start(ports);
    } catch (error) {
      if (attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** One plain connection per node, for administration; a node that does not answer yields undefined. */
export class NodeClients {
  private readonly clients = new Map<number, Redis>();

  get(port: number): Redis {
    let client = this.clients.get(port);
    if (!client) {
      client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, commandTimeout: 1000 });
      client.on('error', () => undefined);
      this.clients.set(port, client);
    }
    return client;
  }

  /** The command's reply, or undefined if the node is down, stalled or refuses it. */
  async tryCall<T>(port: number, ...command: [string, ...string[]]): Promise<T | undefined> {
    try {
      return (await this.get(port).call(...command)) as T;
    } catch {
      return undefined;
    }
  }

  close(port: number): void {
    this.clients.get(port)?.disconnect();
    this.clients.delete(port);
  }

  closeAll(): void {
    for (const port of [...this.clients.keys()]) this.close(port);
  }
}

/** One `field:value` line of an INFO-style reply. */
export function infoField(info: string, field: string): string | undefined {
  const line = info.split('\r\n').find((entry) => entry.startsWith(`${field}:`));
  return line?.slice(field.length + 1).trim();
}
