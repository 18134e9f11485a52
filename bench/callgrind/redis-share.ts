/**
 * `npm run bench:redis-share [-- options]`: Redis instructions per notification (issue #11's P6
 * target: the busiest master's share of one Redis's ≤ 0.4), counted by valgrind's callgrind — the
 * same figure on every run, whatever else the machine does, unlike the CPU time that P6 reads.
 *
 * P6's engine-bound drive (workloads/p6-engine-bound.ts: two brokers of the built app in this
 * process, one holding a subscription on every user's channel, the other publishing single-user
 * notifications C at a time), once on one redis-server and once on a 3-master cluster, every
 * redis-server under callgrind; the cluster gets C per master, as P6 gives it. After the warm-up each
 * node's counters are zeroed (`callgrind_control -z`), N notifications run, and the counters are
 * dumped (`-d`): a node's instructions in that window, per notification of the whole run.
 *
 *   --notifications N   measured (default 20,000)     --warmup N     before the counters are zeroed (2,000)
 *   --in-flight C       publishes in flight on one Redis, per master on the cluster (64)
 *   --users U           channels (1,000)              --repeat R     runs of each engine (2)
 *   --engines E,…       redis, cluster or both (default both; the ratio needs both)
 *   --json FILE         results (default bench/dist/callgrind/redis-share.json); the table goes to stdout
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { benchDist } from '../support/paths';
import { runCommand } from '../support/processes';
import type { EngineKind, RedisWrap } from '../support/redis';
import { CLUSTER_MASTERS } from '../systems/system';
import { EngineBoundSizes, Meter, runEngineBound } from '../workloads/p6-engine-bound';

const run = promisify(execFile);

interface Options {
  sizes: EngineBoundSizes;
  engines: EngineKind[];
  repeat: number;
  json: string;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = {
    sizes: { users: 1000, warmup: 2000, notifications: 20_000, inFlight: 64 },
    engines: ['redis', 'cluster'],
    repeat: 2,
    json: join(benchDist, 'callgrind', 'redis-share.json'),
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    const count = (): number => {
      const n = Number(value);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} must be a positive integer`);
      return n;
    };
    if (flag === '--notifications') opts.sizes.notifications = count();
    else if (flag === '--warmup') opts.sizes.warmup = count();
    else if (flag === '--in-flight') opts.sizes.inFlight = count();
    else if (flag === '--users') opts.sizes.users = count();
    else if (flag === '--repeat') opts.repeat = count();
    else if (flag === '--engines') {
      const engines = value.split(',');
      const unknown = engines.find((engine) => engine !== 'redis' && engine !== 'cluster');
      if (unknown !== undefined) throw new Error(`--engines: unknown engine ${unknown} (redis, cluster)`);
      opts.engines = engines as EngineKind[];
    } else if (flag === '--json') opts.json = value;
    else throw new Error(`unknown option ${flag}`);
  }
  return opts;
}

/** Every redis-server of a run under callgrind, its dumps in `dir` (callgrind.out.<pid>.<n>). */
const callgrind =
  (dir: string): RedisWrap =>
  (args) => ({
    command: 'valgrind',
    args: [
      '--tool=callgrind',
      `--callgrind-out-file=${join(dir, 'callgrind.out.%p')}`,
      'redis-server',
      ...args,
    ],
  });

/** The instructions (Ir) of a node's newest dump: its `totals:` line. */
function dumpedInstructions(dir: string, pid: number): number {
  const prefix = `callgrind.out.${pid}.`;
  const dumps = readdirSync(dir)
    .filter((file) => file.startsWith(prefix))
    .sort((a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)));
  const newest = dumps[dumps.length - 1];
  if (!newest) throw new Error(`no callgrind dump of ${pid} in ${dir}`);
  const totals = /^totals:\s*(\d+)/m.exec(readFileSync(join(dir, newest), 'utf8'));
  if (!totals) throw new Error(`no totals line in ${newest}`);
  return Number(totals[1]);
}

/** Zeroes every node's counters at the window's start, dumps and reads them at its end. */
function callgrindMeter(dir: string): Meter {
  const control = (what: '-z' | '-d', pid: number) =>
    run('callgrind_control', [what, String(pid)], { timeout: 120_000 });
  return {
    begin: async (nodes) => {
      await Promise.all(nodes.map(({ pid }) => control('-z', pid)));
    },
    end: async (nodes) => {
      await Promise.all(nodes.map(({ pid }) => control('-d', pid)));
      return nodes.map(({ pid }) => dumpedInstructions(dir, pid));
    },
  };
}

interface RunResult {
  engine: EngineKind;
  repetition: number;
  /** Instructions per notification, per data node. */
  perMsg: number[];
  perSec: number;
}

async function measure(opts: Options, engine: EngineKind, repetition: number): Promise<RunResult> {
  const dir = join(benchDist, 'callgrind', `redis-${engine}-${repetition}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const sizes =
    engine === 'cluster' ? { ...opts.sizes, inFlight: opts.sizes.inFlight * CLUSTER_MASTERS } : opts.sizes;
  const result = await runEngineBound(engine, sizes, `cg-redis-${engine}-${repetition}`, {
    meter: callgrindMeter(dir),
    wrap: callgrind(dir),
  });
  if (!result) throw new Error('dist/engine/redis-engine.js not built (npm run build)');
  return { engine, repetition, ...result };
}

const thousands = (instructions: number): string => (instructions / 1000).toFixed(1);

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const results: RunResult[] = [];
  for (let repetition = 1; repetition <= opts.repeat; repetition++) {
    for (const engine of opts.engines) {
      const result = await measure(opts, engine, repetition);
      results.push(result);
      console.log(
        `[redis-share] ${engine} run ${repetition}: ${result.perMsg.map(thousands).join(' / ')} k instructions ` +
          `per notification (${Math.round(result.perSec)} notifications/s under callgrind)`,
      );
    }
  }
  const { notifications, warmup, inFlight, users } = opts.sizes;
  console.log(
    `\nRedis instructions per notification (k), callgrind; ${notifications} notifications after ${warmup}, ` +
      `${users} channels, ${inFlight} in flight on one Redis and per master\n`,
  );
  console.log('| run | one Redis | masters | busiest master | busiest ÷ one Redis | target |');
  console.log('| --: | --------: | ------- | -------------: | ------------------: | ------ |');
  for (let repetition = 1; repetition <= opts.repeat && opts.engines.length === 2; repetition++) {
    const [one] = results.find((r) => r.engine === 'redis' && r.repetition === repetition)?.perMsg ?? [];
    const masters = results.find((r) => r.engine === 'cluster' && r.repetition === repetition)?.perMsg ?? [];
    const busiest = Math.max(...masters);
    const ratio = busiest / one;
    console.log(
      `| ${repetition} | ${thousands(one)} | ${masters.map(thousands).join(' / ')} | ${thousands(busiest)} | ` +
        `${ratio.toFixed(3)} | ${ratio <= 0.4 ? '✓' : '✗'} ≤ 0.4 |`,
    );
  }
  writeFileSync(opts.json, JSON.stringify({ sizes: opts.sizes, results }, null, 2));
  console.log(`\nresults: ${opts.json}`);
}

runCommand('bench:redis-share', main);
