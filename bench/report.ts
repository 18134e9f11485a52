import { cpus, release, totalmem } from 'node:os';
import type { Sizes } from './config';
import { redisVersion } from './support/redis';
import type { SystemName } from './systems/system';
import type { Figures, Measurement, RowSpec, Workload } from './workloads/workload';

/** Everything one run measured, as printed, written to Markdown, and (with --json) dumped. */
export interface WorkloadResult {
  id: Workload['id'];
  title: string;
  rows: RowSpec[];
  bySystem: Partial<Record<SystemName, Measurement>>;
}

export interface RunResult {
  command: string;
  date: string;
  machine: string;
  sizes: Sizes;
  systems: SystemName[];
  workloads: WorkloadResult[];
}

export function machineDescription(): string {
  const cpu = cpus();
  return [
    `${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'})`,
    `${Math.round(totalmem() / 2 ** 30)} GiB RAM`,
    `Linux ${release()}`,
    `Node ${process.version}`,
    `Redis ${redisVersion()}`,
  ].join(', ');
}

function formatNumber(value: number | undefined, digits: number): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** herald ÷ other, printed so that the reader sees the raw quotient; '—' where it means nothing. */
function ratio(row: RowSpec, herald: number | undefined, other: number | undefined): string {
  if (row.better === 'none' || herald === undefined || other === undefined) return '—';
  if (!Number.isFinite(herald) || !Number.isFinite(other) || other === 0) return '—';
  return `${(herald / other).toFixed(2)}×`;
}

function figures(result: WorkloadResult, key: string): Figures {
  const f: Figures = {};
  for (const [name, m] of Object.entries(result.bySystem) as Array<[SystemName, Measurement]>) {
    if (!m.na && key in m.values) f[name] = m.values[key];
  }
  return f;
}

export function renderTable(result: WorkloadResult, systems: SystemName[]): string {
  const withHerald = systems.includes('herald');
  const others = systems.filter((s): s is 'peer' | 'floor' => s !== 'herald');
  const header = ['metric', ...systems];
  if (withHerald) header.push(...others.map((o) => `herald/${o}`), 'Herald target');
  const lines = [
    `### ${result.title}`,
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map((h) => (h === 'metric' || h === 'Herald target' ? '---' : '---:')).join('|')}|`,
  ];
  for (const row of result.rows) {
    const f = figures(result, row.key);
    const cells = [
      row.label,
      ...systems.map((s) => (result.bySystem[s]?.na ? 'n/a' : formatNumber(f[s], row.digits))),
    ];
    if (withHerald) {
      cells.push(...others.map((o) => ratio(row, f.herald, f[o])));
      const met = row.target?.met(f);
      cells.push(row.target ? `${met === undefined ? '?' : met ? '✓' : '✗'} ${row.target.text}` : '');
    }
    lines.push(`| ${cells.join(' | ')} |`);
  }
  const notes = systems.flatMap((s) => {
    const m = result.bySystem[s];
    if (!m) return [];
    return [...(m.na ? [m.na] : []), ...m.notes].map((n) => `- ${s}: ${n.replace(/\n/g, ' ').slice(0, 400)}`);
  });
  if (notes.length) lines.push('', ...notes);
  return lines.join('\n');
}

export function renderMarkdown(run: RunResult): string {
  return [
    '# Herald benchmark: Herald vs Socket.IO + Redis adapter (peer) vs bare ws + Redis (floor)',
    '',
    `- Command: \`${run.command}\` (mode: ${run.sizes.mode})`,
    `- Date: ${run.date}`,
    `- Machine: ${run.machine}`,
    '- All figures come from this one run, systems measured one after the other on the same machine, each',
    '  with its own fresh redis-server; read the ratios, not the absolute numbers. Latency is measured from',
    "  a monotonic timestamp in the payload to its arrival at the client. CPU is the processes' time on",
    '  CPU over the measured window (/proc/<pid>/task/*/schedstat), RSS is VmRSS. See bench/README.md.',
    '',
    ...run.workloads.flatMap((w) => [renderTable(w, run.systems), '']),
  ].join('\n');
}
