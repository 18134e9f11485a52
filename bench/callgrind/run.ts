/**
 * `npm run bench:callgrind [-- options]`: instructions per publish (issue #14), counted by valgrind's
 * callgrind — the same figure on every run, whatever else the machine does, unlike time.
 *
 * For each system and role, a fresh redis-server and 2 replicas: replica 0 takes every POST, replica
 * 1 holds every client connection. The role's replica runs under callgrind (`publish`: replica 0,
 * `deliver`: replica 1), the other one natively. This process is the load: U WebSocket clients on
 * replica 1, and C lanes, each posting a single publish to one of its own users and waiting for the
 * 202 *and* the delivery before the next (so at most C notifications are anywhere in the pipeline,
 * and the measured replica, ~50× slower under valgrind, always has C to do). After the warm-up the
 * counters are zeroed (`callgrind_control -z`), N publishes run, and the counters are dumped (`-d`);
 * then an idle window of the same kind measures what timers cost per second. Each run is analysed
 * (profile.ts): total, main thread vs V8's worker threads, syscalls, and a breakdown by component.
 *
 *   --systems herald,bare,peer,floor   (default: all four)
 *   --roles publish,deliver            (default: both)
 *   --publishes N   measured publishes                    --warmup N   publishes before the counters are zeroed
 *   --in-flight C   lanes                                 --users U    (default 200)
 *                   defaults per role: publish 1500 after 2000 with 8 lanes (the replica taking POSTs
 *                   batches what 8 connections send it); deliver 3000 after 6000 with 1 lane (one
 *                   message per read, whatever the timing; its short path needs the longer warm-up
 *                   before the JIT has settled)
 *   --repeat R      runs per system and role (default 2: the figure's spread shows it is stable)
 *   --idle-ms T     idle window after the measured one (default 3000)
 *   --json FILE     results (default bench/dist/callgrind/results.json); the tables go to stdout
 *   --native        no valgrind: only checks that the drive works (counts are not read)
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BenchConnection, connectionTarget, ConnectionEvents } from '../load/connection';
import { personalBody, userIds } from '../load/payload';
import { errorMessage, monoMs, sleep, withTimeout } from '../support/clock';
import { httpRequest } from '../support/http';
import { benchDist } from '../support/paths';
import { killAllSync, runCommand } from '../support/processes';
import { herald } from '../systems/herald';
import { bare } from '../systems/bare';
import { peer } from '../systems/peer';
import { floor } from '../systems/floor';
import type { ReplicaWrap, RunningSystem, SystemAdapter } from '../systems/system';
import { analyse, Analysis, renderRun, renderSummary } from './profile';

const run = promisify(execFile);

type Role = 'publish' | 'deliver';
const ROLES: readonly Role[] = ['publish', 'deliver'];
const ADAPTERS: readonly SystemAdapter[] = [herald, bare, peer, floor];

/** What a run of one role drives. */
interface Drive {
  publishes: number;
  warmup: number;
  inFlight: number;
}

const ROLE_DRIVE: Record<Role, Drive> = {
  publish: { publishes: 1500, warmup: 2000, inFlight: 8 },
  deliver: { publishes: 3000, warmup: 6000, inFlight: 1 },
};

interface Options {
  systems: string[];
  roles: Role[];
  /** Set on the command line: overrides the role's default. */
  drive: Partial<Drive>;
  users: number;
  repeat: number;
  idleMs: number;
  json: string;
  native: boolean;
}

export interface RunRecord {
  system: string;
  role: Role;
  repetition: number;
  publishes: number;
  warmup: number;
  inFlight: number;
  windowMs: number;
  idleMs: number;
  analysis: Analysis;
  idle: Analysis;
}

const outRoot = join(benchDist, 'callgrind');
const HOUR_MS = 3_600_000;

function parseArgs(argv: string[]): Options {
  const opts: Options = {
    systems: ADAPTERS.map((a) => a.name),
    roles: [...ROLES],
    drive: {},
    users: 200,
    repeat: 2,
    idleMs: 3000,
    json: join(outRoot, 'results.json'),
    native: false,
  };
  const value = (i: number, flag: string): string => {
    const v = argv[i];
    if (v === undefined) throw new Error(`${flag} needs a value`);
    return v;
  };
  const count = (i: number, flag: string): number => {
    const n = Number(value(i, flag));
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    switch (flag) {
      case '--systems':
        opts.systems = value(++i, flag).split(',');
        for (const s of opts.systems)
          if (!ADAPTERS.some((a) => a.name === s)) throw new Error(`unknown system ${s}`);
        break;
      case '--roles':
        opts.roles = value(++i, flag).split(',') as Role[];
        for (const r of opts.roles) if (!ROLES.includes(r)) throw new Error(`unknown role ${r}`);
        break;
      case '--publishes':
        opts.drive.publishes = count(++i, flag);
        break;
      case '--warmup':
        opts.drive.warmup = count(++i, flag);
        break;
      case '--in-flight':
        opts.drive.inFlight = count(++i, flag);
        break;
      case '--users':
        opts.users = count(++i, flag);
        break;
      case '--repeat':
        opts.repeat = count(++i, flag);
        break;
      case '--idle-ms':
        opts.idleMs = count(++i, flag);
        break;
      case '--json':
        opts.json = value(++i, flag);
        break;
      case '--native':
        opts.native = true;
        break;
      default:
        throw new Error(`unknown option ${flag}`);
    }
  }
  return opts;
}

/** `callgrind_control -z|-d <pid>`: zero or dump the counters of a running callgrind. */
async function control(what: '-z' | '-d', pid: number): Promise<void> {
  await run('callgrind_control', [what, String(pid)], { timeout: 120_000 });
}

/** One lane of the load: its own users, one publish at a time, each awaited until delivered. */
class Lane {
  private waiting: (() => void) | undefined;
  constructor(readonly users: string[]) {}

  delivered(): void {
    const waiter = this.waiting;
    this.waiting = undefined;
    waiter?.();
  }

  expect(): Promise<void> {
    return new Promise((resolve) => (this.waiting = resolve));
  }
}

/** The clients on replica 1 and the lanes; `drive(n)` runs n publishes to replica 0 and awaits their delivery. */
async function startLoad(
  sys: RunningSystem,
  users: string[],
  inFlight: number,
): Promise<{ drive(n: number): Promise<void>; close(): void }> {
  const lanes = Array.from(
    { length: inFlight },
    (_, k) => new Lane(users.filter((_, i) => i % inFlight === k)),
  );
  const laneOf = new Map(lanes.flatMap((lane) => lane.users.map((u) => [u, lane] as const)));
  const problems: string[] = [];
  const events: ConnectionEvents = {
    notification: (conn) => laneOf.get(conn.user)?.delivered(),
    dropped: (conn, reason) => problems.push(`${conn.user} dropped: ${reason}`),
    errorFrame: (conn, data) => problems.push(`${conn.user} error frame: ${JSON.stringify(data)}`),
  };
  const connections = users.map(
    (u) => new BenchConnection(u, connectionTarget(sys.client, u, 1), sys.client, events),
  );
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < connections.length) await connections[next++].connect(undefined, 300_000);
    }),
  );
  const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
  const headers = { authorization: `Bearer ${sys.apiKey}` };
  const url = sys.publishUrl(0);
  const drive = async (n: number): Promise<void> => {
    let sent = 0;
    await Promise.all(
      lanes.map(async (lane) => {
        while (sent < n) {
          sent++;
          const user = lane.users[Math.floor(Math.random() * lane.users.length)];
          const delivered = lane.expect();
          const body = JSON.stringify(personalBody(user, monoMs()));
          const res = await httpRequest(url, { method: 'POST', body, headers, agent, timeoutMs: 300_000 });
          if (res.status !== 202) throw new Error(`publish: HTTP ${res.status} ${res.body.slice(0, 200)}`);
          await withTimeout(delivered, 300_000, `delivery to ${user}`);
          if (problems.length > 0) throw new Error(problems.slice(0, 3).join('; '));
        }
      }),
    );
  };
  return {
    drive,
    close() {
      agent.destroy();
      for (const c of connections) c.close();
    },
  };
}

async function measure(
  adapter: SystemAdapter,
  role: Role,
  repetition: number,
  opts: Options,
): Promise<RunRecord> {
  const dir = join(outRoot, `${adapter.name}-${role}-${repetition}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const measured = role === 'publish' ? 0 : 1;
  const drive = { ...ROLE_DRIVE[role], ...opts.drive };
  const wrap: ReplicaWrap = (replica, command, args) =>
    replica !== measured || opts.native
      ? undefined
      : {
          command: 'valgrind',
          args: [
            '--tool=callgrind',
            `--callgrind-out-file=${join(dir, 'callgrind.out')}`,
            '--separate-threads=yes',
            command,
            // JIT code is named in /tmp/perf-<pid>.map, interpreted functions each by their own trampoline.
            '--perf-basic-prof',
            '--interpreted-frames-native-stack',
            // The code-event log these flags also write goes with the run's files, not the working directory.
            `--logfile=${join(dir, 'v8.log')}`,
            '--no-logfile-per-isolate',
            ...args,
          ],
          startTimeoutMs: 600_000,
          // Heartbeats are per connection per interval, not per publish: an hour keeps them out of the windows.
          env: { HEARTBEAT_INTERVAL_MS: String(HOUR_MS), PING_INTERVAL_MS: String(HOUR_MS) },
        };
  const sys = await adapter.start(2, `cg-${role}-${repetition}`, 'redis', wrap);
  const pid = sys.pids[measured];
  let windowMs: number;
  try {
    const load = await startLoad(sys, userIds('u', opts.users), drive.inFlight);
    try {
      await load.drive(drive.warmup);
      if (!opts.native) await control('-z', pid);
      const started = monoMs();
      await load.drive(drive.publishes);
      windowMs = monoMs() - started;
      if (!opts.native) {
        await control('-d', pid);
        await control('-z', pid);
        await sleep(opts.idleMs);
        await control('-d', pid);
      }
    } finally {
      load.close();
    }
  } finally {
    await sys.stop();
  }
  const record = {
    system: adapter.name,
    role,
    repetition,
    publishes: drive.publishes,
    warmup: drive.warmup,
    inFlight: drive.inFlight,
    windowMs,
    idleMs: opts.idleMs,
  };
  if (opts.native) {
    process.stdout.write(
      `${adapter.name} ${role}: ${drive.publishes} publishes in ${windowMs.toFixed(0)} ms (native)\n`,
    );
    return { ...record, analysis: emptyAnalysis(), idle: emptyAnalysis() };
  }
  const map = `/tmp/perf-${pid}.map`;
  if (existsSync(map)) {
    copyFileSync(map, join(dir, 'perf.map'));
    rmSync(map);
  }
  const analysis = analyse(dir, 1, join(dir, 'perf.map'));
  const idle = analyse(dir, 2, join(dir, 'perf.map'));
  const result = { ...record, analysis, idle };
  process.stdout.write(renderRun(result));
  return result;
}

function emptyAnalysis(): Analysis {
  return {
    total: 0,
    mainThread: 0,
    otherThreads: 0,
    syscalls: {},
    components: [],
    mainComponents: [],
    top: [],
  };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  mkdirSync(outRoot, { recursive: true });
  const records: RunRecord[] = [];
  for (const adapter of ADAPTERS.filter((a) => opts.systems.includes(a.name))) {
    const why = adapter.unavailable();
    if (why) {
      process.stdout.write(`${adapter.name}: skipped (${why})\n`);
      continue;
    }
    for (const role of opts.roles) {
      for (let rep = 1; rep <= opts.repeat; rep++) {
        try {
          records.push(await measure(adapter, role, rep, opts));
        } catch (err) {
          process.stdout.write(`${adapter.name} ${role} #${rep} failed: ${errorMessage(err)}\n`);
          killAllSync();
        }
        writeFileSync(opts.json, JSON.stringify({ options: opts, records }, null, 2));
      }
    }
  }
  if (!opts.native) process.stdout.write(renderSummary(records));
}

runCommand('bench:callgrind', main);
