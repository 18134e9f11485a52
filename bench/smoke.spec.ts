import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunResult } from './report';

/**
 * A tiny run of the benchmark harness (P1: 20 users, 1 s) against the floor and the peer, and Herald
 * when dist/main.js exists and starts: the harness builds, every system starts and stops, and the
 * table comes out with deliveries and no loss. The run is a separate process group, killed whole if
 * it overstays.
 */
const root = join(__dirname, '..');
const RUN_TIMEOUT_MS = 45_000;

function runBench(args: string[]): {
  child: ChildProcess;
  done: Promise<{ code: number | null; output: string }>;
} {
  const child = spawn(process.execPath, [join(root, 'bench', 'dist', 'run.js'), ...args], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const done = new Promise<{ code: number | null; output: string }>((resolve) => {
    const timer = setTimeout(() => killGroup(child), RUN_TIMEOUT_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
  return { child, done };
}

function killGroup(child: ChildProcess | undefined): void {
  if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

describe('bench harness (smoke)', () => {
  let child: ChildProcess | undefined;
  let dir: string | undefined;

  afterEach(() => {
    killGroup(child);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs a tiny P1 and prints side-by-side tables with deliveries and no loss', async () => {
    const tsc = spawnSync(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', 'bench/tsconfig.json'],
      {
        cwd: root,
        encoding: 'utf8',
        timeout: 40_000,
      },
    );
    expect(`${tsc.stdout}${tsc.stderr}`).toBe('');
    expect(tsc.status).toBe(0);

    dir = mkdtempSync(join(tmpdir(), 'herald-bench-smoke-'));
    const json = join(dir, 'run.json');
    const markdown = join(dir, 'run.md');
    const run = runBench(['--smoke', '--out', markdown, '--json', json]);
    child = run.child;
    const { code, output } = await run.done;
    if (code !== 0) throw new Error(`bench exited with ${code}:\n${output}`);

    const result = JSON.parse(readFileSync(json, 'utf8')) as RunResult;
    const p1 = result.workloads.find((w) => w.id === 'P1');
    expect(p1).toBeDefined();
    const herald = p1?.bySystem.herald;
    const measured = (['peer', 'floor'] as const).map((name) => ({ name, m: p1?.bySystem[name] }));
    if (herald?.na === undefined) measured.push({ name: 'herald' as 'peer', m: herald });
    else if (existsSync(join(root, 'dist', 'main.js'))) console.warn(`bench smoke: Herald ${herald.na}`);
    for (const { name, m } of measured) {
      expect({ name, na: m?.na }).toEqual({ name, na: undefined });
      expect(m?.values.deliveredPerSec).toBeGreaterThan(0);
      expect({ name, lost: m?.values.lost, errors: m?.values.errors }).toEqual({ name, lost: 0, errors: 0 });
    }
    const table = readFileSync(markdown, 'utf8');
    expect(table).toContain('### P1 personal');
    expect(table).toMatch(/\| delivered\/s \|/);
    expect(output).toContain('| delivered/s |');
  }, 60_000);
});
