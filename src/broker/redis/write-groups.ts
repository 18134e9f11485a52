interface Waiter<R> {
  /** Where the caller's writes start among the group's, and how many there are. */
  start: number;
  count: number;
  resolve: (results: R[]) => void;
  reject: (error: unknown) => void;
}

/**
 * Writes asked for in one turn of the event loop, sent together: {@link add} queues them, and once the
 * poll phase is over (setImmediate — so a group holds every request that phase handled, e.g. the POSTs
 * read from 32 connections in one go, not only one request's) the group goes out as calls of at most
 * `maxWrites` writes each, in the order the writes were added. Calls are sent in order on one
 * connection, so writes to one channel keep their order across callers and across calls.
 *
 * `add` resolves with its writes' results in order, or rejects with the error of any call that
 * carried one of them (a caller whose writes span two calls fails when either fails, as a request
 * fails when any of its writes does). Nothing is ever sent twice.
 */
export class WriteGroups<W, R> {
  private writes: W[] = [];
  private waiters: Waiter<R>[] = [];

  constructor(
    private readonly maxWrites: number,
    private readonly send: (writes: W[]) => Promise<R[]>,
  ) {}

  add(writes: readonly W[]): Promise<R[]> {
    if (writes.length === 0) return Promise.resolve([]);
    if (this.writes.length === 0) setImmediate(() => this.flush());
    return new Promise((resolve, reject) => {
      this.waiters.push({ start: this.writes.length, count: writes.length, resolve, reject });
      for (const write of writes) this.writes.push(write);
    });
  }

  private flush(): void {
    const { writes, waiters, maxWrites } = this;
    this.writes = [];
    this.waiters = [];
    const calls: Promise<R[]>[] = [];
    for (let at = 0; at < writes.length; at += maxWrites) {
      calls.push(this.sendSafely(writes.slice(at, at + maxWrites)));
    }
    for (const { start, count, resolve, reject } of waiters) {
      const first = Math.floor(start / maxWrites);
      const last = Math.floor((start + count - 1) / maxWrites);
      const from = start - first * maxWrites;
      const results =
        first === last ? calls[first] : Promise.all(calls.slice(first, last + 1)).then((all) => all.flat());
      void results.then((all) => resolve(all.slice(from, from + count)), reject);
    }
  }

  /** A call that throws rather than rejecting still fails only its own waiters. */
  private async sendSafely(writes: W[]): Promise<R[]> {
    return this.send(writes);
  }
}
