import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { httpRequest } from './http';
import { freePort, waitUntil } from './wait';

const DEPLOY = join(__dirname, '..', '..', 'deploy');

/** Absolute path of an executable on PATH (plus the sbin directories, where Debian puts nginx), or undefined. */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface TestNginx {
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  /** ws://127.0.0.1:<port>/v1/ws */
  wsUrl: string;
  /** The directory holding the config, logs and pid. */
  dir: string;
  /** What nginx wrote to stdout (the JSON access log) and stderr so far. */
  output(): string;
  /** Fast shutdown (SIGTERM), SIGKILL to the whole process group after 5 s; removes the directory. */
  stop(): Promise<void>;
}

/**
 * The config nginx gets here: `deploy/nginx.conf` as shipped, except the listen address and temp paths,
 * with `deploy/nginx-upstreams.conf` rewritten to the given local ports (same server parameters).
 */
export function localNginxConfig(
  dir: string,
  port: number,
  upstreamPorts: number[],
): { conf: string; upstreams: string } {
  const shipped = readFileSync(join(DEPLOY, 'nginx.conf'), 'utf8');
  const listen = /^(\s*)listen 8080;$/m;
  const http = /^http \{$/m;
  if (!listen.test(shipped) || !http.test(shipped)) {
    throw new Error(
      'deploy/nginx.conf no longer has a `listen 8080;` line and an `http {` line for the test to adapt',
    );
  }
  const conf = shipped
    .replace(listen, `$1listen 127.0.0.1:${port};`)
    .replace(
      http,
      `http {\n    client_body_temp_path ${join(dir, 'body')};\n    proxy_temp_path ${join(dir, 'proxy')};`,
    );

  const servers = readFileSync(join(DEPLOY, 'nginx-upstreams.conf'), 'utf8').match(/^server\s+\S+(.*);$/m);
  if (!servers) throw new Error('deploy/nginx-upstreams.conf has no `server host:port …;` line');
  const parameters = servers[1];
  const upstreams = upstreamPorts.map((upstream) => `server 127.0.0.1:${upstream}${parameters};\n`).join('');
  return { conf, upstreams };
}

/** Starts nginx in the foreground with the shipped config in front of the given ports, and waits until it proxies. */
export async function startNginx(upstreamPorts: number[]): Promise<TestNginx> {
  const binary = findExecutable('nginx');
  if (!binary) throw new Error('nginx is not installed');
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchNginx(binary, await freePort(), upstreamPorts);
    } catch (error) {
      // A port picked as free may have been taken before nginx bound it.
      if (!(error instanceof PortTakenError) || attempt >= 5) throw error;
    }
  }
}

class PortTakenError extends Error {}

async function launchNginx(binary: string, port: number, upstreamPorts: number[]): Promise<TestNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-nginx-'));
  // Workers drop to an unprivileged user when nginx runs as root: they must reach the temp paths.
  chmodSync(dir, 0o755);
  const { conf, upstreams } = localNginxConfig(dir, port, upstreamPorts);
  writeFileSync(join(dir, 'nginx.conf'), conf);
  writeFileSync(join(dir, 'nginx-upstreams.conf'), upstreams);

  // stdout and stderr go to a file: the shipped config logs to /dev/stdout, which cannot be opened
  // when it is a socket, as Node's pipes are.
  const logFile = join(dir, 'output.log');
  const log = openSync(logFile, 'a');
  const child: ChildProcess = spawn(
    binary,
    [
      '-p',
      dir,
      '-c',
      join(dir, 'nginx.conf'),
      '-e',
      join(dir, 'error.log'),
      '-g',
      `pid ${join(dir, 'nginx.pid')}; daemon off; master_process on;`,
    ],
    // Its own process group, so that stop() can reach the workers too.
    { stdio: ['ignore', log, log], detached: true },
  );
  closeSync(log);
  const output = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;

  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (running()) {
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), 5000)));
      if ((await Promise.race([exited, late])) === 'late' && child.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
        await exited;
      }
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitUntil(
      async () => {
        if (!running()) {
          if (/Address already in use/.test(output())) throw new PortTakenError(`port ${port} taken`);
          throw new Error(`nginx exited with ${child.exitCode ?? child.signalCode}:\n${output()}`);
        }
        try {
          // `Server: nginx` proves that what answers is nginx (not a neighbour on a reused port), and
          // the 200 that it reaches a replica.
          const response = await httpRequest('GET', `${url}/health/live`, { timeoutMs: 2000 });
          return response.status === 200 && String(response.headers.server).startsWith('nginx');
        } catch {
          return false;
        }
      },
      10_000,
      `nginx on ${port}`,
      50,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, url, wsUrl: `ws://127.0.0.1:${port}/v1/ws`, dir, output, stop };
}

/**
 * How many TCP connections to the local port `port` are established right now (Linux /proc): for a
 * replica behind nginx, the connections nginx holds to it — one per proxied WebSocket, plus idle
 * keepalive connections.
 */
export function establishedTo(port: number): number {
  let count = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 4) continue;
      const localPort = parseInt(fields[1].split(':')[1] ?? '', 16);
      if (localPort === port && fields[3] === '01') count++;
    }
  }
  return count;
}

/** True when `docker-compose` (v1, Debian's package) is installed. */
export const hasDockerCompose = (): boolean => findExecutable('docker-compose') !== undefined;

/**
 * Runs `docker-compose config` (with `args`, `-q` by default) on one of the repository's compose files
 * with exactly the given variables.
 */
export function composeConfig(
  file: string,
  env: Record<string, string>,
  args: string[] = ['-q'],
): { status: number | null; output: string } {
  const root = join(__dirname, '..', '..');
  const emptyEnvFile = join(mkdtempSync(join(tmpdir(), 'herald-compose-')), 'empty.env');
  writeFileSync(emptyEnvFile, '');
  try {
    // --env-file: a developer's .env must not supply the secrets this check leaves out.
    const result = spawnSync(
      findExecutable('docker-compose') ?? 'docker-compose',
      ['--project-directory', root, '-f', join(root, file), '--env-file', emptyEnvFile, 'config', ...args],
      {
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...env },
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    return {
      status: result.status,
      output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}`,
    };
  } finally {
    rmSync(join(emptyEnvFile, '..'), { recursive: true, force: true });
  }
}
