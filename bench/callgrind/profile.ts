/**
 * Reads callgrind's dumps of one window (one file per thread with --separate-threads=yes) and
 * attributes every instruction to a component.
 *
 * Callgrind names native code from the ELF symbols (node's C++, V8's embedded builtins, libuv, libc)
 * but knows nothing of V8's JIT code: it names each of its basic blocks by address. V8's
 * `--perf-basic-prof` map (with `--interpreted-frames-native-stack`, a trampoline per interpreted
 * function) names those addresses: each becomes its JS function, classified by its script's path
 * (node_modules package, Herald's dist/, node's own modules).
 *
 * Attribution: a function classified by a rule (see components.ts) keeps its own (self) instructions.
 * The self instructions of a shared function — V8's builtins and runtime (inline caches, calls,
 * allocation, promises), libc's memcpy and malloc — go to its callers, in proportion to the calls each
 * made, and on up until they reach a classified caller: the cost of a builtin lands on the JS code
 * that called it. What reaches no classified caller is `unattributed`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { classify, SHARED, syscallName } from './components';

export interface Analysis {
  /** Instructions (Ir) in the window, every thread. */
  total: number;
  mainThread: number;
  otherThreads: number;
  /** Calls into libc's syscall wrappers, by syscall. */
  syscalls: Record<string, number>;
  /** Instructions per component, largest first. */
  components: Array<[string, number]>;
  /** The same, main thread only (the event loop: V8's compiler and GC helpers run on worker threads). */
  mainComponents: Array<[string, number]>;
  /** The functions with the most attributed instructions, largest first: [label, component, Ir]. */
  top: Array<[string, string, number]>;
}

interface Graph {
  names: Map<number, string>;
  objects: Map<number, string>;
  self: Map<number, number>;
  /** caller → callee → [calls, inclusive Ir] */
  calls: Map<number, Map<number, [number, number]>>;
  total: number;
}

/** Parses one callgrind output file (name compression, `positions: line`, one event: Ir). */
export function parseCallgrind(text: string): Graph {
  const names = new Map<number, string>();
  const objects = new Map<number, string>();
  const objectNames = new Map<number, string>();
  const self = new Map<number, number>();
  const calls = new Map<number, Map<number, [number, number]>>();
  let total = 0;
  let ob = '';
  let cob: string | undefined;
  let fn = -1;
  let cfn = -1;
  let pendingCalls = -1;

  const ref = (value: string, table: Map<number, string>): [number, string] => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(value);
    if (!m) return [-1, value];
    const id = Number(m[1]);
    if (m[2] !== undefined) table.set(id, m[2]);
    return [id, table.get(id) ?? ''];
  };

  for (const line of text.split('\n')) {
    if (line === '') continue;
    const c = line.charCodeAt(0);
    if ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 42) {
      const space = line.indexOf(' ');
      const cost = space < 0 ? 0 : Number(line.slice(space + 1).split(' ')[0]);
      if (pendingCalls >= 0) {
        let out = calls.get(fn);
        if (!out) calls.set(fn, (out = new Map<number, [number, number]>()));
        const edge = out.get(cfn) ?? [0, 0];
        edge[0] += pendingCalls;
        edge[1] += cost;
        out.set(cfn, edge);
        pendingCalls = -1;
      } else {
        self.set(fn, (self.get(fn) ?? 0) + cost);
        total += cost;
      }
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    switch (key) {
      case 'ob':
        ob = ref(value, objectNames)[1];
        break;
      case 'cob':
        cob = ref(value, objectNames)[1];
        break;
      case 'fn':
        fn = ref(value, names)[0];
        if (!objects.has(fn)) objects.set(fn, ob);
        cob = undefined;
        break;
      case 'cfn':
        cfn = ref(value, names)[0];
        if (!objects.has(cfn)) objects.set(cfn, cob ?? ob);
        break;
      case 'calls':
        pendingCalls = Number(value.split(' ')[0]);
        break;
      default:
        break;
    }
  }
  return { names, objects, self, calls, total };
}

/** V8's perf map: [start, end, name], sorted by start; the last entry logged for a start wins. */
type PerfMap = Array<[number, number, string]>;

export function readPerfMap(path: string): PerfMap {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const byStart = new Map<number, [number, number, string]>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
    if (!m) continue;
    const start = parseInt(m[1], 16);
    byStart.set(start, [start, start + parseInt(m[2], 16), m[3]]);
  }
  return [...byStart.values()].sort((a, b) => a[0] - b[0]);
}

function lookup(map: PerfMap, address: number): string | undefined {
  let lo = 0;
  let hi = map.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (map[mid][0] <= address) lo = mid + 1;
    else hi = mid - 1;
  }
  for (let i = hi; i >= 0 && i > hi - 8; i--) {
    if (address < map[i][1]) return map[i][2];
  }
  return undefined;
}

/** A function's label: its symbol, or for JIT code the perf map's name (`JS:*f file:line:col` → `f file:line`). */
export function labelOf(name: string, object: string, map: PerfMap): string {
  const base = name.replace(/'\d+$/, '');
  const jit = /^0x([0-9a-f]+)/.exec(base);
  if (!jit || (object !== '???' && object !== '')) return base;
  const found = lookup(map, parseInt(jit[1], 16));
  if (!found) return 'JIT code (unnamed)';
  return found.replace(/^JS:[*~^+]?/, 'JS:').replace(/:(\d+):\d+$/, ':$1');
}

/** One thread's file: attributed instructions per component and per label, and its syscalls. */
function attribute(
  graph: Graph,
  map: PerfMap,
  byComponent: Map<string, number>,
  byLabel: Map<string, [string, number]>,
  syscalls: Record<string, number>,
): void {
  // Merge callgrind's functions (basic blocks, for JIT code) into labels.
  const labelIds = new Map<string, number>();
  const labels: string[] = [];
  const labelObjects: string[] = [];
  const idOf = new Map<number, number>();
  const intern = (fnId: number): number => {
    let id = idOf.get(fnId);
    if (id !== undefined) return id;
    const object = graph.objects.get(fnId) ?? '';
    const label = labelOf(graph.names.get(fnId) ?? '???', object, map);
    id = labelIds.get(label);
    if (id === undefined) {
      id = labels.length;
      labels.push(label);
      labelObjects.push(object);
      labelIds.set(label, id);
    }
    idOf.set(fnId, id);
    return id;
  };
  const mass: number[] = [];
  const add = (id: number, ir: number): void => void (mass[id] = (mass[id] ?? 0) + ir);
  for (const [fnId, ir] of graph.self) add(intern(fnId), ir);
  /** callee → caller → calls */
  const callers = new Map<number, Map<number, number>>();
  for (const [from, out] of graph.calls) {
    const caller = intern(from);
    for (const [to, [count]] of out) {
      const callee = intern(to);
      const sys = syscallName(graph.names.get(to) ?? '', graph.objects.get(to) ?? '');
      if (sys && !/libc\.so/.test(graph.objects.get(from) ?? ''))
        syscalls[sys] = (syscalls[sys] ?? 0) + count;
      if (callee === caller) continue;
      let m = callers.get(callee);
      if (!m) callers.set(callee, (m = new Map<number, number>()));
      m.set(caller, (m.get(caller) ?? 0) + count);
    }
  }
  const component = labels.map((label, id) => classify(label, labelObjects[id]));
  // Shared functions pass their instructions up to their callers, by calls, until a classified one.
  const owned = new Array<number>(labels.length).fill(0);
  let pending = mass.map((ir) => ir ?? 0);
  for (let round = 0; round < 200; round++) {
    const next = new Array<number>(labels.length).fill(0);
    let moving = 0;
    pending.forEach((ir, id) => {
      if (ir === 0) return;
      if (component[id] !== SHARED) {
        owned[id] += ir;
        return;
      }
      const up = callers.get(id);
      const callCount = up ? [...up.values()].reduce((a, b) => a + b, 0) : 0;
      if (!up || callCount === 0) {
        owned[id] += ir;
        return;
      }
      for (const [caller, count] of up) next[caller] += (ir * count) / callCount;
      moving += ir;
    });
    pending = next;
    if (moving < 1) break;
  }
  pending.forEach((ir, id) => (owned[id] += ir));
  owned.forEach((ir, id) => {
    if (ir === 0) return;
    const name = component[id] === SHARED ? 'unattributed' : component[id];
    byComponent.set(name, (byComponent.get(name) ?? 0) + ir);
    const entry = byLabel.get(labels[id]) ?? [name, 0];
    entry[1] += ir;
    byLabel.set(labels[id], entry);
  });
}

/** Analyses dump number `dump` in `dir` (callgrind.out.<dump>-<thread>), with the perf map at `mapPath`. */
export function analyse(dir: string, dump: number, mapPath: string): Analysis {
  const map = readPerfMap(mapPath);
  const files = readdirSync(dir)
    .filter((f) => f.startsWith(`callgrind.out.${dump}-`))
    .sort();
  const byComponent = new Map<string, number>();
  const mainByComponent = new Map<string, number>();
  const byLabel = new Map<string, [string, number]>();
  const syscalls: Record<string, number> = {};
  let total = 0;
  let mainThread = 0;
  for (const file of files) {
    const graph = parseCallgrind(readFileSync(join(dir, file), 'utf8'));
    total += graph.total;
    const own = new Map<string, number>();
    attribute(graph, map, own, byLabel, syscalls);
    for (const [name, ir] of own) byComponent.set(name, (byComponent.get(name) ?? 0) + ir);
    if (file.endsWith('-01')) {
      mainThread += graph.total;
      for (const [name, ir] of own) mainByComponent.set(name, ir);
    }
  }
  return {
    total,
    mainThread,
    otherThreads: total - mainThread,
    syscalls,
    components: [...byComponent].sort((a, b) => b[1] - a[1]),
    mainComponents: [...mainByComponent].sort((a, b) => b[1] - a[1]),
    top: [...byLabel]
      .map(([label, [component, ir]]): [string, string, number] => [label, component, ir])
      .sort((a, b) => b[2] - a[2])
      .slice(0, 60),
  };
}

export interface RunLike {
  system: string;
  role: string;
  repetition: number;
  publishes: number;
  windowMs: number;
  idleMs: number;
  analysis: Analysis;
  idle: Analysis;
}

const k = (n: number): string => Math.round(n / 1000).toLocaleString('en-US');

/** Components whose instructions come in lumps (a major GC, a batch of optimizations), not per publish. */
const LUMPY = new Set(['GC (V8 heap)', 'V8 compiler (JIT, parser, deopt)']);

/**
 * The main thread's instructions without GC and the JIT compiler: the work each publish does itself,
 * the figure that repeats within ±2 %; whether a major GC falls in the window moves the rest.
 */
export function mutator(a: Analysis): number {
  return a.mainComponents.reduce((sum, [name, ir]) => (LUMPY.has(name) ? sum : sum + ir), 0);
}

/** Timers and other background work during the window, estimated from the idle window's rate. */
export function background(r: RunLike): number {
  return r.idleMs > 0 ? (r.idle.total / r.idleMs) * r.windowMs : 0;
}

export function renderRun(r: RunLike): string {
  const per = r.analysis.total / r.publishes;
  const lines = [
    `\n## ${r.system} ${r.role} #${r.repetition}: ${k(per)} k instructions per publish ` +
      `(main thread ${k(r.analysis.mainThread / r.publishes)} k, of which ${k(mutator(r.analysis) / r.publishes)} k outside GC and JIT; ` +
      `V8 workers ${k(r.analysis.otherThreads / r.publishes)} k; ` +
      `window ${(r.windowMs / 1000).toFixed(1)} s, idle ${k(r.idle.total / (r.idleMs / 1000))} k/s ` +
      `≈ ${k(background(r) / r.publishes)} k per publish)`,
    `syscalls per publish: ${Object.entries(r.analysis.syscalls)
      .sort((a, b) => b[1] - a[1])
      .map(([name, n]) => `${name} ${(n / r.publishes).toFixed(2)}`)
      .join(', ')}`,
    '',
    '| component | k instr / publish, all threads | main thread |',
    '| --- | ---: | ---: |',
    ...r.analysis.components.map(([name, ir]) => {
      const main = r.analysis.mainComponents.find(([n]) => n === name)?.[1] ?? 0;
      return `| ${name} | ${k(ir / r.publishes)} | ${k(main / r.publishes)} |`;
    }),
    '',
  ];
  return lines.join('\n');
}

/** Per system and role: each repetition's figures, and the spread of the stable one (main thread outside GC and JIT). */
export function renderSummary(records: RunLike[]): string {
  const groups = new Map<string, RunLike[]>();
  for (const r of records) {
    const key = `${r.system} ${r.role}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const out = [
    '\n# Summary: k instructions per publish (one figure per run)',
    '',
    '| system | role | main thread outside GC and JIT | its spread | main thread | all threads | GC, all threads | JIT compiler, all threads |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const each = (runs: RunLike[], f: (r: RunLike) => number): string =>
    runs.map((r) => k(f(r) / r.publishes)).join(' / ');
  const component = (r: RunLike, name: string): number =>
    r.analysis.components.find(([n]) => n === name)?.[1] ?? 0;
  for (const [key, runs] of groups) {
    const stable = runs.map((r) => mutator(r.analysis) / r.publishes);
    const mean = stable.reduce((a, b) => a + b, 0) / stable.length;
    const spread = ((Math.max(...stable) - Math.min(...stable)) / 2 / mean) * 100;
    const [system, role] = key.split(' ');
    out.push(
      `| ${system} | ${role} | ${each(runs, (r) => mutator(r.analysis))} | ±${spread.toFixed(1)} % | ` +
        `${each(runs, (r) => r.analysis.mainThread)} | ${each(runs, (r) => r.analysis.total)} | ` +
        `${each(runs, (r) => component(r, 'GC (V8 heap)'))} | ${each(runs, (r) => component(r, 'V8 compiler (JIT, parser, deopt)'))} |`,
    );
  }
  return `${out.join('\n')}\n`;
}
