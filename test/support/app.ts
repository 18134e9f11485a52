import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { httpRequest } from './http';
import { freePort, waitUntil } from './wait';

export const TEST_JWT_SECRET = 'test-jwt-secret-0123456789abcdef';
export const TEST_API_KEY = 'test-api-key-secret';
export const OTHER_API_KEY = 'other-api-key-secret';

const MAIN = join(__dirname, '..', '..', 'dist', 'main.js');

export interface TestApp {
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  /** ws://127.0.0.1:<port>/v1/ws */
  wsUrl: string;
  pid: number;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** SIGTERM and wait for the exit (graceful drain). */
  stop(): Promise<number | string>;
  /** SIGKILL and wait for the exit (a crash). */
  kill(): Promise<number | string>;
}

/**
 * Starts the built service (`dist/main.js`, made by `npm test`'s build step) as its own process, with
 * test secrets and the given variables, and waits for /health/ready. `REDIS_URL` unset → memory engine.
 */
export async function startApp(
  env: Record<string, string | undefined> = {},
  readyTimeoutMs = 15_000,
): Promise<TestApp> {
  // A port picked as free may be taken by another test process before the app binds it; then the
  // app exits (EADDRINUSE) and we try another. The app's own "listening on port" line proves that
  // the server answering health checks is this process, not a neighbour's.
  for (let attempt = 1; ; attempt++) {
    const port = env.PORT ? Number(env.PORT) : await freePort();
    try {
      return await launchApp(env, port, readyTimeoutMs);
    } catch (error) {
      if (!(error instanceof PortTakenError) || env.PORT || attempt >= 5) throw error;
    }
  }
}

class PortTakenError extends Error {}

async function launchApp(
  env: Record<string, string | undefined>,
  port: number,
  readyTimeoutMs: number,
): Promise<TestApp> {
  const child: ChildProcess = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      JWT_SECRET: TEST_JWT_SECRET,
      API_KEYS: `test:${TEST_API_KEY},other:${OTHER_API_KEY}`,
      LOG_LEVEL: 'info',
      ...env,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const url = `http://127.0.0.1:${port}`;
  const app: TestApp = {
    port,
    url,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    pid: child.pid ?? 0,
    output: () => output,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
  };
  try {
    await waitUntil(
      async () => {
        if (child.exitCode !== null) {
          if (output.includes('EADDRINUSE')) throw new PortTakenError(`port ${port} taken`);
          throw new Error(`app exited with ${child.exitCode}:\n${output}`);
        }
        if (!output.includes(`listening on port ${port}`)) return false;
        try {
          return (await httpRequest('GET', `${url}/health/ready`, { timeoutMs: 2000 })).status === 200;
        } catch {
          return false;
        }
      },
      readyTimeoutMs,
      `app on ${port} to be ready`,
      50,
    );
  } catch (error) {
    await app.kill();
    throw error;
  }
  return app;
}

/** Runs the built service to completion (for start-up failures): exit code and output. */
export async function runAppToExit(
  env: Record<string, string | undefined>,
  timeoutMs = 15_000,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) =>
    child.once('exit', (exitCode) => resolve(exitCode)),
  );
  clearTimeout(timer);
  return { code, output };
}

/**
 * The credentials a development replica generated and printed in its banner (started with
 * `JWT_SECRET` and `API_KEYS` unset, the only way the demo exists).
 */
export function generatedCredentials(app: Pick<TestApp, 'output'>): { jwtSecret: string; apiKey: string } {
  const jwtSecret = /JWT_SECRET \(generated\): (\S+)/.exec(app.output())?.[1];
  const apiKey = /API key \(generated\): +(\S+)/.exec(app.output())?.[1];
  if (!jwtSecret || !apiKey) throw new Error('no generated credentials in the start-up banner');
  return { jwtSecret, apiKey };
}
