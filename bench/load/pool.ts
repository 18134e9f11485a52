import { withTimeout } from '../support/clock';
import { forkManaged, Managed } from '../support/processes';
import type { CommandKind, CommandMap, Reply, Request } from './protocol';

interface Pending {
  resolve(result: unknown): void;
  reject(err: Error): void;
}

let workersStarted = 0;

/** The orchestrator's handle on one load-generator process (load/worker.ts). */
export class LoadWorker {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** This process's own source address for its client connections (see OpenArgs.localAddress). */
  readonly sourceAddress: string;

  constructor(private readonly proc: Managed) {
    const n = workersStarted++;
    this.sourceAddress = `127.1.${Math.floor(n / 250) % 250}.${1 + (n % 250)}`;
    proc.child.on('message', (msg: Reply) => {
      const waiter = this.pending.get(msg.id);
      if (!waiter) return;
      this.pending.delete(msg.id);
      if (msg.ok) waiter.resolve(msg.result);
      else waiter.reject(new Error(`${proc.label}: ${msg.error}`));
    });
    void proc.exited.then((code) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${proc.label} exited (${code})`));
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** Sends one command and waits at most `timeoutMs` for its result. */
  call<K extends CommandKind>(
    kind: K,
    args: CommandMap[K]['args'],
    timeoutMs: number,
  ): Promise<CommandMap[K]['result']> {
    const id = this.nextId++;
    const result = new Promise<CommandMap[K]['result']>((resolve, reject) => {
      this.pending.set(id, { resolve: (r) => resolve(r as CommandMap[K]['result']), reject });
      const request = { id, kind, args } as Request;
      this.proc.child.send(request);
    });
    return withTimeout(result, timeoutMs, `${this.proc.label} ${kind}`).finally(() =>
      this.pending.delete(id),
    );
  }

  stop(): Promise<void> {
    return this.proc.stop(2000);
  }
}

/** Forks `count` load-generator processes, runs `fn` with them, and always stops them afterwards. */
export async function withWorkers<T>(
  count: number,
  label: string,
  fn: (workers: LoadWorker[]) => Promise<T>,
): Promise<T> {
  const workers = Array.from(
    { length: count },
    (_, i) => new LoadWorker(forkManaged(`${label}-loadgen${i}`, 'load/worker.js')),
  );
  try {
    return await fn(workers);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}
