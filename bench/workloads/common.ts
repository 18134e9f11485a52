import type { LoadWorker } from '../load/pool';
import type {
  ClientSpec,
  ConnectionPlan,
  DeliveryReport,
  OpenReport,
  PublishArgs,
  PublishReport,
} from '../load/protocol';
import { monoMs, sleep } from '../support/clock';
import { Histogram } from '../support/histogram';
import type { EngineKind } from '../support/redis';
import { rssKiB } from '../support/procstat';
import type { RunningSystem, SystemAdapter } from '../systems/system';

/** Starts a system, runs `fn`, and always stops it. */
export async function withSystem<T>(
  adapter: SystemAdapter,
  replicas: number,
  label: string,
  fn: (sys: RunningSystem) => Promise<T>,
  engine: EngineKind = 'redis',
): Promise<T> {
  const sys = await adapter.start(replicas, label, engine);
  try {
    return await fn(sys);
  } finally {
    await sys.stop();
  }
}

/** [u0, replica 0], [u1, replica 1], … over the first `replicas` replicas. */
export function spread(users: string[], replicas: number): ConnectionPlan {
  return users.map((u, i) => [u, i % replicas]);
}

export interface OpenOptions {
  topic?: string;
  /** Handshakes in flight per worker. */
  window: number;
  timeoutMs?: number;
}

/** Opens the planned connections, split into contiguous shares over the workers. */
export async function openConnections(
  workers: LoadWorker[],
  client: ClientSpec,
  plan: ConnectionPlan,
  opts: OpenOptions,
): Promise<OpenReport> {
  const share = Math.ceil(plan.length / workers.length);
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const reports = await Promise.all(
    workers.map((w, i) =>
      w.call(
        'open',
        {
          client,
          connections: plan.slice(i * share, (i + 1) * share),
          topic: opts.topic,
          window: opts.window,
          timeoutMs,
          localAddress: w.sourceAddress,
        },
        timeoutMs * 2 + plan.length * 5,
      ),
    ),
  );
  const merged: OpenReport = {
    opened: reports.reduce((n, r) => n + r.opened, 0),
    errors: reports.reduce((n, r) => n + r.errors, 0),
    errorSamples: reports.flatMap((r) => r.errorSamples).slice(0, 5),
    startedAt: Math.min(...reports.map((r) => r.startedAt)),
    lastOpenAt: Math.max(...reports.map((r) => r.lastOpenAt)),
  };
  if (merged.opened === 0) throw new Error(`no connection opened: ${merged.errorSamples.join('; ')}`);
  return merged;
}

export async function startRecording(workers: LoadWorker[], rounds = false): Promise<void> {
  await Promise.all(workers.map((w) => w.call('record', { rounds }, 10_000)));
}

/** Waits until the clients have received `expected` notifications in all, or `timeoutMs` passed. */
export async function waitDelivered(
  workers: LoadWorker[],
  expected: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = monoMs() + timeoutMs;
  while (monoMs() < deadline) {
    const counts = await Promise.all(workers.map((w) => w.call('count', null, 10_000)));
    if (counts.reduce((n, c) => n + c.received, 0) >= expected) return;
    await sleep(50);
  }
}

export interface Deliveries {
  received: number;
  perUser: Map<string, number>;
  latency: Histogram;
  lastReceivedAt: number;
  dropped: number;
  dropSamples: string[];
  errorFrames: number;
}

export async function collectDeliveries(workers: LoadWorker[]): Promise<Deliveries> {
  const reports: DeliveryReport[] = await Promise.all(workers.map((w) => w.call('report', null, 30_000)));
  const latency = new Histogram();
  const perUser = new Map<string, number>();
  for (const r of reports) {
    latency.merge(r.latency);
    for (const [user, n] of Object.entries(r.perUser)) perUser.set(user, (perUser.get(user) ?? 0) + n);
  }
  return {
    received: reports.reduce((n, r) => n + r.received, 0),
    perUser,
    latency,
    lastReceivedAt: Math.max(0, ...reports.map((r) => r.lastReceivedAt)),
    dropped: reports.reduce((n, r) => n + r.dropped, 0),
    dropSamples: reports.flatMap((r) => r.dropSamples).slice(0, 5),
    errorFrames: reports.reduce((n, r) => n + r.errorFrames, 0),
  };
}

export interface Publishing {
  requests: number;
  accepted: number;
  errors: number;
  errorSamples: string[];
  expected: Map<string, number>;
  startedAt: number;
  endedAt: number;
  rtt: Histogram;
  notFound: boolean;
}

/** Runs the publisher on each of `workers` (each with `inFlight / workers` lanes) and merges the results. */
export async function runPublishers(workers: LoadWorker[], args: PublishArgs): Promise<Publishing> {
  const lanes = Math.max(1, Math.round(args.inFlight / workers.length));
  const reports: PublishReport[] = await Promise.all(
    workers.map((w) =>
      w.call(
        'publish',
        { ...args, inFlight: lanes, maxRequests: Math.ceil(args.maxRequests / workers.length) },
        args.durationMs + 60_000,
      ),
    ),
  );
  const rtt = new Histogram();
  const expected = new Map<string, number>();
  for (const r of reports) {
    rtt.merge(r.rtt);
    for (const [user, n] of Object.entries(r.expected)) expected.set(user, (expected.get(user) ?? 0) + n);
  }
  return {
    requests: reports.reduce((n, r) => n + r.requests, 0),
    accepted: reports.reduce((n, r) => n + r.accepted, 0),
    errors: reports.reduce((n, r) => n + r.errors, 0),
    errorSamples: reports.flatMap((r) => r.errorSamples).slice(0, 5),
    expected,
    startedAt: Math.min(...reports.map((r) => r.startedAt)),
    endedAt: Math.max(...reports.map((r) => r.endedAt)),
    rtt,
    notFound: reports.some((r) => r.notFound),
  };
}

/** Notifications owed but not received (lost), and received beyond what was owed (extra), per user. */
export function lossAndExtra(
  expected: Map<string, number>,
  received: Map<string, number>,
): { lost: number; extra: number } {
  let lost = 0;
  let extra = 0;
  for (const user of new Set([...expected.keys(), ...received.keys()])) {
    const diff = (received.get(user) ?? 0) - (expected.get(user) ?? 0);
    if (diff < 0) lost -= diff;
    else extra += diff;
  }
  return { lost, extra };
}

/** RSS in KiB once it has settled: waits `settleMs`, then the median of 5 samples 200 ms apart. */
export async function settledRssKiB(pid: number, settleMs: number): Promise<number> {
  await sleep(settleMs);
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(rssKiB(pid));
    await sleep(200);
  }
  return median(samples);
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Notes for a table's footnotes: error samples and the like, only when there is something to say. */
export function note(what: string, count: number, samples: string[]): string[] {
  return count > 0 ? [`${what}: ${count} (${samples.slice(0, 3).join('; ')})`] : [];
}
