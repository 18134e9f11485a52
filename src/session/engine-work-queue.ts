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
 * history, ending a channel's epoch — paced per engine (per shard, once there are shards):
 * - at most `concurrency` tasks run at once, so thousands of channels catching up after an outage
 *   do not all hit the engine in the same moment;
 * - a failure pauses the whole queue for one backoff (doubling per failed round, reset by a success)
 *   and the failed task waits at the back, instead of every channel retrying on its own timer;
 * - failures are logged at most once per `logIntervalMs`, with how many failed and how many wait,
 *   however many channels there are; the first success after them is logged once.
 * A task is known by its key: scheduling a key that already waits does not queue it twice.
 */
export class EngineWorkQueue {
  private readonly waiting = new Map<string, Task>();
  private running = 0;
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
    return this.waiting.size + this.running;
  }

  /** True while a failure has paused the queue. */
  get paused(): boolean {
    return this.pause !== undefined;
  }

  schedule(key: string, task: Task): void {
    if (!this.waiting.has(key)) this.waiting.set(key, task);
    this.pump();
  }

  /** Drops a waiting task (its channel is gone); a running one finishes. */
  cancel(key: string): void {
    this.waiting.delete(key);
  }

  /** Drops everything that waits and stops the pause timer (shutdown). */
  clear(): void {
    this.waiting.clear();
    clearTimeout(this.pause);
    this.pause = undefined;
  }

  private pump(): void {
    while (!this.pause && this.running < this.options.concurrency && this.waiting.size > 0) {
      const [key, task] = this.waiting.entries().next().value as [string, Task];
      this.waiting.delete(key);
      this.running += 1;
      task().then(
        () => this.settle(() => this.succeeded()),
        (error: unknown) => this.settle(() => this.failed(key, task, error)),
      );
    }
  }

  private settle(outcome: () => void): void {
    this.running -= 1;
    outcome();
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
    if (!this.waiting.has(key)) this.waiting.set(key, task);
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
