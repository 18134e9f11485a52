import type { Logger } from '@nestjs/common';

export interface EngineWorkQueueOptions {
  /** Tasks running at once. */
  concurrency: number;
  /** The first pause after a failure; each further failed round doubles it, up to `maxBackoffMs`. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** At most one log line about failures per this many ms (the first failure is logged at once). */
  logIntervalMs: number;
}

type Task = () => Promise<void>;

/**
 * Engine work that must eventually succeed for many channels at once — catching a channel up from
 * history, ending a channel's epoch — paced per replica, across every shard of the engine:
 * - at most `concurrency` tasks run at once, so thousands of channels catching up after an outage
 *   do not all hit the engine in the same moment;
 * - a failure pauses the whole queue for one backoff (doubling per failed round, reset by a success)
 *   and the failed task waits at the back, instead of every channel retrying on its own timer;
 * - failures are logged at most once per `logIntervalMs`, with how many failed and how many wait,
 *   however many channels there are; the first success after them is logged once.
 * A task is known by its key: scheduling a key that already waits does not queue it twice (the newer
 * task replaces it, in its place), and a key never runs twice at once — scheduled while it runs, it
 * runs again once that run is over.
 */
export class EngineWorkQueue {
  private readonly waiting = new Map<string, Task>();
  /** Keys running now, and the task to run again after, when the key was scheduled meanwhile. */
  private readonly runningKeys = new Map<string, Task | undefined>();
  /** Running keys whose task must not be retried if it fails (cancelled meanwhile). */
  private readonly cancelled = new Set<string>();
  private backoffMs = 0;
  private pause: NodeJS.Timeout | undefined;
  private failures = 0;
  private unreportedFailures = 0;
  private lastReportAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly name: string,
    private readonly logger: Pick<Logger, 'warn' | 'log'>,
    private readonly options: EngineWorkQueueOptions,
  ) {}

  /** Tasks waiting or running. */
  get size(): number {
    return this.waiting.size + this.runningKeys.size;
  }

  /** True while a failure has paused the queue. */
  get paused(): boolean {
    return this.pause !== undefined;
  }

  schedule(key: string, task: Task): void {
    if (this.runningKeys.has(key)) this.runningKeys.set(key, task);
    else this.waiting.set(key, task);
    this.pump();
  }

  /** Drops a waiting task (its channel is gone); a running one finishes, and is not run again. */
  cancel(key: string): void {
    this.waiting.delete(key);
    if (!this.runningKeys.has(key)) return;
    this.runningKeys.set(key, undefined);
    this.cancelled.add(key);
  }

  /** Drops everything that waits and stops the pause timer (shutdown). */
  clear(): void {
    this.waiting.clear();
    for (const key of this.runningKeys.keys()) this.cancel(key);
    clearTimeout(this.pause);
    this.pause = undefined;
  }

  private pump(): void {
    while (!this.pause && this.runningKeys.size < this.options.concurrency && this.waiting.size > 0) {
      const [key, task] = this.waiting.entries().next().value as [string, Task];
      this.waiting.delete(key);
      this.runningKeys.set(key, undefined);
      task().then(
        () => this.settle(key, () => this.succeeded()),
        (error: unknown) => this.settle(key, () => this.failed(key, task, error)),
      );
    }
  }

  private settle(key: string, outcome: () => void): void {
    const again = this.runningKeys.get(key);
    this.runningKeys.delete(key);
    if (again) {
      this.cancelled.delete(key);
      this.waiting.set(key, again);
    }
    outcome();
    this.cancelled.delete(key);
    this.pump();
  }

  private succeeded(): void {
    if (this.failures === 0) return;
    this.logger.log(`${this.name}: engine answers again after ${this.failures} failed attempts`);
    this.failures = 0;
    this.unreportedFailures = 0;
    this.backoffMs = 0;
    this.lastReportAt = Number.NEGATIVE_INFINITY;
  }

  private failed(key: string, task: Task, error: unknown): void {
    // The failed task waits at the back, unless its key was cancelled or scheduled anew meanwhile.
    if (!this.waiting.has(key) && !this.cancelled.has(key)) this.waiting.set(key, task);
    this.failures += 1;
    this.unreportedFailures += 1;
    if (!this.pause) {
      this.backoffMs = Math.min(
        this.options.maxBackoffMs,
        this.backoffMs === 0 ? this.options.initialBackoffMs : this.backoffMs * 2,
      );
      this.pause = setTimeout(() => {
        this.pause = undefined;
        this.pump();
      }, this.backoffMs);
      this.pause.unref();
    }
    const now = Date.now();
    if (now - this.lastReportAt < this.options.logIntervalMs) return;
    this.lastReportAt = now;
    this.logger.warn(
      `${this.name}: ${this.unreportedFailures} attempts failed (${(error as Error).message}); ` +
        `${this.size} waiting, retrying in ${this.backoffMs} ms`,
    );
    this.unreportedFailures = 0;
  }
}
