import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ; 100 on Linux x86-64). */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU time (user + system) the process has used so far, in ms, all its threads included (also the
 * ones that have exited). Resolution: one clock tick (10 ms). NaN when the process is gone.
 */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after "(comm)" start at field 3; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/**
 * Time on CPU of the process's live threads, in ms with ns resolution (the first field of each
 * /proc/<pid>/task/<tid>/schedstat); NaN when unavailable. Threads that exited are not counted.
 */
export function runMs(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
      } catch {
        // the thread just exited
      }
    }
    return ns / 1e6;
  } catch {
    return NaN;
  }
}

/** Resident set size in KiB (VmRSS); NaN when the process is gone. */
export function rssKiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return match ? Number(match[1]) : NaN;
  } catch {
    return NaN;
  }
}

/**
 * A CPU-time mark for a set of processes; `since` gives each one's ms of CPU used after the mark.
 * It uses the precise per-thread run time, unless a thread exited in between (then the run time
 * falls short of the tick count, which includes dead threads, and the tick count is used).
 */
export class CpuMark {
  private readonly ticks: number[];
  private readonly run: number[];

  constructor(private readonly pids: readonly number[]) {
    this.ticks = pids.map(cpuMs);
    this.run = pids.map(runMs);
  }

  since(): number[] {
    return this.pids.map((pid, i) => {
      const byTicks = cpuMs(pid) - this.ticks[i];
      const byRun = runMs(pid) - this.run[i];
      const tick = 1000 / CLK_TCK;
      return Number.isFinite(byRun) && byRun >= byTicks - 2 * tick ? byRun : byTicks;
    });
  }
}
