/**
 * Latency histogram in milliseconds with ~1% relative precision: bucket i holds values in
 * (1.01^(i-1), 1.01^i] µs, up to ~440 s. Constant memory, and mergeable across the load generator's
 * processes, which send it to the orchestrator as sparse [bucket, count] pairs.
 */
const LOG_BASE = Math.log(1.01);
const BUCKETS = 2000;

export type HistogramData = { buckets: Array<[number, number]>; max: number };

export class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;
  private maxMs = 0;

  get count(): number {
    return this.total;
  }

  record(ms: number): void {
    const us = ms * 1000;
    const i = us <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(us) / LOG_BASE));
    this.counts[i]++;
    this.total++;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  merge(data: HistogramData): void {
    for (const [i, n] of data.buckets) {
      this.counts[i] += n;
      this.total += n;
    }
    if (data.max > this.maxMs) this.maxMs = data.max;
  }

  /** The upper bound of the bucket holding the p-th percentile (p in 0..100), in ms; NaN when empty. */
  percentile(p: number): number {
    if (this.total === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(this.maxMs, Math.pow(1.01, i) / 1000);
    }
    return this.maxMs;
  }

  toData(): HistogramData {
    const buckets: Array<[number, number]> = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] > 0) buckets.push([i, this.counts[i]]);
    return { buckets, max: this.maxMs };
  }
}
