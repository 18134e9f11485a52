import { ChildProcess, fork, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { errorMessage, sleep } from './clock';
import { benchDist, logDir } from './paths';

/**
 * Every process the bench starts goes through here: it is tracked so that `killAllSync` can end it on
 * exit, error or signal, and registered with the reaper, which ends it even if the orchestrator is
 * killed outright. Its stdout and stderr go to bench/dist/logs/<label>.log.
 */
const live = new Set<ChildProcess>();
let reaper: ChildProcess | undefined;

function reaperProcess(): ChildProcess {
  if (!reaper) {
    reaper = fork(join(benchDist, 'support', 'reaper.js'), [], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    reaper.unref();
    reaper.channel?.unref();
  }
  return reaper;
}

function tellReaper(msg: { add?: number; remove?: number }): void {
  const r = msg.add === undefined ? reaper : reaperProcess();
  if (r?.connected) r.send(msg);
}

export interface Managed {
  readonly label: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  readonly logFile: string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines of its log, for error messages. */
  logTail(lines?: number): string;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Give the child an IPC channel (node scripts of the bench exit when it closes). */
  ipc?: boolean;
}

export function spawnManaged(
  label: string,
  command: string,
  args: string[],
  opts: SpawnOptions = {},
): Managed {
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${label}.log`);
  const fd = openSync(logFile, 'w');
  const stdio: Array<'ignore' | 'ipc' | number> = ['ignore', fd, fd];
  if (opts.ipc) stdio.push('ipc');
  const child = spawn(command, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${label}: ${command}`);
  const pid = child.pid;
  live.add(child);
  tellReaper({ add: pid });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      tellReaper({ remove: pid });
      resolve(code ?? signal ?? 'unknown');
    });
  });
  child.once('error', () => live.delete(child));
  const logTail = (lines = 15): string => {
    try {
      return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  const stop = async (graceMs = 5000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const done = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  return { label, pid, child, exited, logFile, stop, logTail };
}

/** Forks a compiled bench script (under bench/dist) with an IPC channel. */
export function forkManaged(label: string, script: string, env?: NodeJS.ProcessEnv): Managed {
  return spawnManaged(label, process.execPath, [join(benchDist, script)], { env, ipc: true });
}

/** SIGKILLs every live child at once; safe to call from an 'exit' handler. */
export function killAllSync(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
  reaper?.kill('SIGTERM');
  reaper = undefined;
}

/**
 * Every child ends with this process, however it ends: on exit, and on SIGINT, SIGTERM or SIGHUP
 * (after `onSignal`, exit code 130); the reaper covers a SIGKILL of this process.
 */
export function endChildrenOnExit(onSignal?: (signal: NodeJS.Signals) => void): void {
  process.on('exit', killAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      onSignal?.(signal);
      killAllSync();
      process.exit(130);
    });
  }
}

/** Runs a bench command's `main` with {@link endChildrenOnExit}: exit 0, or 1 with "`name` failed: …". */
export function runCommand(name: string, main: () => Promise<void>): void {
  endChildrenOnExit();
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${name} failed: ${errorMessage(err)}\n`);
      process.exit(1);
    },
  );
}

const handedOut = new Set<number>();

/**
 * A free TCP port on 127.0.0.1 between 20000 and 32767: below Linux's ephemeral range (32768–60999),
 * so that the tens of thousands of client sockets of a run can never take a server's port.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12768);
    if (handedOut.has(port)) continue;
    const ok = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (ok) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free port found in 20000-32767');
}
