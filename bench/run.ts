/**
 * `npm run bench [-- options]`: runs each workload against each system in turn, prints one table per
 * workload (Herald vs peer vs floor, with ratios) and writes them to Markdown.
 *
 *   --quick                 every workload, smaller (under two minutes for the three systems)
 *   --smoke                 tiny P1 only (the test suite's smoke run)
 *   --only P1,P3            workloads to run (default: all; --smoke: P1)
 *   --systems herald,peer   systems to run (default: all three; Herald shows n/a if not built)
 *   --out FILE              Markdown output (default: bench/RESULTS.md for a complete full run,
 *                           bench/dist/last-run.md otherwise)
 *   --json FILE             also write the raw results as JSON
 *   --repeat N              run every workload N times, the systems interleaved (herald, peer, floor,
 *                           herald, ...), and report each figure's median over the N runs: on a
 *                           shared machine one run's ratios near 1.0 fall either side (default 1)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { Mode, SIZES } from './config';
import { renderMarkdown, renderTable, machineDescription, RunResult, WorkloadResult } from './report';
import { errorMessage, withTimeout } from './support/clock';
import { benchDist, repoRoot } from './support/paths';
import { endChildrenOnExit, killAllSync } from './support/processes';
import { SYSTEMS } from './systems';
import { SYSTEM_NAMES, SystemName } from './systems/system';
import { WORKLOADS } from './workloads';
import type { SystemAdapter } from './systems/system';
import type { Measurement, Workload, WorkloadId } from './workloads/workload';

interface Options {
  mode: Mode;
  only: WorkloadId[];
  systems: SystemName[];
  out?: string;
  json?: string;
  repeat: number;
}

/** Longest time for one workload on one system (per system start), and for the whole run, per mode (ms). */
const BUDGET: Record<Mode, { workload: number; run: number }> = {
  full: { workload: 240_000, run: 30 * 60_000 },
  quick: { workload: 60_000, run: 5 * 60_000 },
  smoke: { workload: 40_000, run: 55_000 },
};

function parseArgs(argv: string[]): Options {
  const opts: Options = { mode: 'full', only: [], systems: [...SYSTEM_NAMES], repeat: 1 };
  const list = (value: string | undefined, flag: string): string[] => {
    if (!value) throw new UsageError(`${flag} needs a value`);
    return value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    switch (arg) {
      case '--quick':
        opts.mode = 'quick';
        break;
      case '--smoke':
        opts.mode = 'smoke';
        break;
      case '--only': {
        const ids = list(argv[++i], arg).map((v) => v.toUpperCase());
        const bad = ids.filter((id) => !WORKLOADS.some((w) => w.id === id));
        if (bad.length) throw new UsageError(`unknown workload(s): ${bad.join(', ')}`);
        opts.only = ids as WorkloadId[];
        break;
      }
      case '--systems': {
        const names = list(argv[++i], arg);
        const bad = names.filter((n) => !SYSTEM_NAMES.includes(n as SystemName));
        if (bad.length)
          throw new UsageError(`unknown system(s): ${bad.join(', ')} (have ${SYSTEM_NAMES.join(', ')})`);
        opts.systems = SYSTEM_NAMES.filter((n) => names.includes(n));
        break;
      }
      case '--out':
        opts.out = list(argv[++i], arg)[0];
        break;
      case '--json':
        opts.json = list(argv[++i], arg)[0];
        break;
      case '--repeat': {
        const times = Number(list(argv[++i], arg)[0]);
        if (!Number.isInteger(times) || times < 1) throw new UsageError('--repeat needs a whole number ≥ 1');
        opts.repeat = times;
        break;
      }
      case '--help':
        process.stdout.write(HELP);
        process.exit(0);
        break;
      default:
        throw new UsageError(`unknown argument ${arg} (see --help)`);
    }
  }
  if (opts.mode === 'smoke' && opts.only.length === 0) opts.only = ['P1'];
  return opts;
}

const HELP = [
  'npm run bench [-- --quick | --smoke] [--only P1,P3] [--systems herald,peer,floor] [--repeat N] [--out FILE] [--json FILE]',
  'See bench/README.md.',
  '',
].join('\n');

/** A bad command line: reported without a stack trace. */
class UsageError extends Error {}

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function commandLine(argv: string[]): string {
  const args = argv.join(' ');
  if (process.env.npm_lifecycle_event === 'bench') return args ? `npm run bench -- ${args}` : 'npm run bench';
  return `node ${relative(repoRoot, process.argv[1] ?? 'bench/dist/run.js')}${args ? ` ${args}` : ''}`;
}

/** Whether the system has every engine the workload needs (otherwise it is n/a there, by design). */
function runsOn(workload: Workload, adapter: SystemAdapter): boolean {
  return (workload.engines ?? []).every((engine) => adapter.engines.includes(engine));
}

const median = (values: number[]): number => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** Counts that must be 0 in every run (losses, errors): the worst run's, not the median. */
const WORST_OF_RUNS = /lost|error/i;

/** One measurement from a system's repeated runs: each figure's median, and the headline per run. */
function combine(runs: Measurement[], headline: string): Measurement {
  if (runs.length === 1) return runs[0];
  const keys = new Set(runs.flatMap((m) => Object.keys(m.values)));
  const values = Object.fromEntries(
    [...keys].map((key) => {
      const perRun = runs.map((m) => m.values[key]);
      return [key, WORST_OF_RUNS.test(key) ? Math.max(...perRun) : median(perRun)];
    }),
  );
  const perRun = runs.map((m) => Number(m.values[headline]?.toPrecision(4))).join(', ');
  return {
    values,
    notes: [
      `median of ${runs.length} runs, interleaved with the other systems; ${headline} per run: ${perRun}`,
      ...runs[0].notes,
    ],
  };
}

function summary(m: Measurement): string {
  if (m.na) return m.na.split('\n')[0];
  return Object.entries(m.values)
    .map(([k, v]) => `${k}=${Number.isFinite(v) ? Number(v.toPrecision(4)) : '—'}`)
    .join(' ');
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const opts = parseArgs(argv);
  const sizes = SIZES[opts.mode];
  const workloads = WORKLOADS.filter((w) => opts.only.length === 0 || opts.only.includes(w.id));
  const adapters = SYSTEMS.filter((s) => opts.systems.includes(s.name));
  const budget = BUDGET[opts.mode];
  const run: RunResult = {
    command: commandLine(argv),
    date: new Date().toISOString(),
    machine: machineDescription(),
    sizes,
    systems: opts.systems,
    workloads: [],
  };
  log(`${run.command} — ${run.machine}`);
  let failures = 0;
  /** Systems a workload does not apply to (n/a by design, not a failure). */
  const notRun = new Set<Measurement>();

  for (const workload of workloads) {
    const result: WorkloadResult = {
      id: workload.id,
      title: workload.title(sizes),
      rows: workload.rows(sizes),
      bySystem: {},
    };
    run.workloads.push(result);
    const runnable: SystemAdapter[] = [];
    for (const adapter of adapters) {
      if (!runsOn(workload, adapter)) {
        const m: Measurement = {
          values: {},
          notes: [],
          na: `n/a: no ${workload.engines?.join(' and ')} mode`,
        };
        result.bySystem[adapter.name] = m;
        notRun.add(m);
        continue;
      }
      const unavailable = adapter.unavailable();
      if (unavailable) {
        result.bySystem[adapter.name] = { values: {}, notes: [], na: `n/a: ${unavailable}` };
        log(`${workload.id} ${adapter.name}: n/a (${unavailable})`);
        continue;
      }
      runnable.push(adapter);
    }
    const runs = new Map<SystemName, Measurement[]>(runnable.map((adapter) => [adapter.name, []]));
    for (let repetition = 1; repetition <= opts.repeat; repetition++) {
      const of = opts.repeat > 1 ? ` (run ${repetition} of ${opts.repeat})` : '';
      for (const adapter of runnable) {
        if (result.bySystem[adapter.name]?.na) continue; // an earlier run failed
        log(`${workload.id} ${adapter.name}: running${of}`);
        try {
          const m = await withTimeout(
            workload.run(adapter, { sizes, log }),
            budget.workload * (workload.starts ?? 1),
            `${workload.id} on ${adapter.name}`,
          );
          runs.get(adapter.name)?.push(m);
          log(`${workload.id} ${adapter.name}: ${summary(m)}`);
        } catch (err) {
          failures++;
          result.bySystem[adapter.name] = { values: {}, notes: [], na: `error: ${errorMessage(err)}` };
          log(`${workload.id} ${adapter.name}: FAILED ${errorMessage(err)}`);
          killAllSync(); // whatever the failed workload left running
        }
      }
    }
    const headline = result.rows[0]?.key ?? '';
    for (const [name, measured] of runs) {
      if (!result.bySystem[name]?.na) result.bySystem[name] = combine(measured, headline);
    }
  }

  // P4's headline is relative to the same system's P1 rate in this run.
  const p1 = run.workloads.find((w) => w.id === 'P1');
  const p4 = run.workloads.find((w) => w.id === 'P4');
  for (const name of opts.systems) {
    const a = p1?.bySystem[name];
    const b = p4?.bySystem[name];
    if (a && b && !a.na && !b.na) b.values.vsP1 = b.values.deliveredPerSec / a.values.deliveredPerSec;
  }

  const markdown = renderMarkdown(run);
  process.stdout.write(`\n${run.workloads.map((w) => renderTable(w, run.systems)).join('\n\n')}\n\n`);
  const complete =
    opts.mode === 'full' &&
    workloads.length === WORKLOADS.length &&
    opts.systems.length === SYSTEM_NAMES.length &&
    run.workloads.every((w) =>
      Object.values(w.bySystem).every((m) => !m.na || m.na.includes('404') || notRun.has(m)),
    );
  const out = opts.out ?? (complete ? join(repoRoot, 'bench', 'RESULTS.md') : join(benchDist, 'last-run.md'));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, markdown);
  log(
    `tables written to ${relative(process.cwd(), out)}${complete ? '' : ' (not a complete full run: RESULTS.md untouched)'}`,
  );
  if (opts.json) {
    mkdirSync(dirname(opts.json), { recursive: true });
    writeFileSync(opts.json, JSON.stringify(run, null, 2));
  }
  return failures > 0 ? 1 : 0;
}

endChildrenOnExit((signal) => log(`${signal}: stopping`));

let mode: Mode = 'full';
try {
  mode = parseArgs(process.argv.slice(2)).mode;
} catch {
  // reported by main()
}
setTimeout(() => {
  log(`run budget of ${BUDGET[mode].run / 1000} s exceeded: stopping`);
  killAllSync();
  process.exit(2);
}, BUDGET[mode].run).unref();

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const detail =
      err instanceof UsageError
        ? err.message
        : err instanceof Error
          ? (err.stack ?? err.message)
          : String(err);
    log(`failed: ${detail}`);
    process.exit(1);
  },
);
