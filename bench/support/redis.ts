import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { sleep } from './clock';
import { freePort, Managed, spawnManaged } from './processes';

/** A fresh redis-server of this run's own: no persistence, loopback only, on a free port. */
export interface BenchRedis {
  readonly port: number;
  readonly url: string;
  readonly process: Managed;
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

export async function startRedis(label: string): Promise<BenchRedis> {
  const port = await freePort();
  const proc = spawnManaged(label, 'redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ]);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`redis-server exited at start:\n${proc.logTail()}`);
    if (await ping(port)) return { port, url: `redis://127.0.0.1:${port}`, process: proc };
    await sleep(50);
  }
  await proc.stop(1000);
  throw new Error(`redis-server on port ${port} did not answer PING within 10 s`);
}

export function redisVersion(): string {
  try {
    const out = execFileSync('redis-server', ['--version'], { encoding: 'utf8' });
    return /v=(\S+)/.exec(out)?.[1] ?? out.trim();
  } catch {
    return 'unknown';
  }
}
