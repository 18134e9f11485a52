/**
 * Workload sizes per mode. `full` is the definition; `quick` keeps every workload's shape at
 * a size that runs all three systems in under two minutes; `smoke` is the tiny P1 of the test suite.
 */
export type Mode = 'full' | 'quick' | 'smoke';

export interface Sizes {
  mode: Mode;
  p1: {
    users: number;
    inFlight: number;
    warmupMs: number;
    durationMs: number;
    clientWorkers: number;
    publisherWorkers: number;
  };
  p2: { connections: number; rounds: number; gapMs: number; clientWorkers: number };
  p3: { connections: number; warmup: number; settleMs: number; clientWorkers: number };
  p4: {
    users: number;
    batchSize: number;
    inFlight: number;
    warmupMs: number;
    durationMs: number;
    clientWorkers: number;
  };
  p5: { connections: number; window: number; probePublishes: number; clientWorkers: number };
  /** P6's engine-bound phase (Herald's engine driven straight from the bench process). */
  p6Engine: { users: number; warmup: number; notifications: number; inFlight: number };
}

export const SIZES: Record<Mode, Sizes> = {
  full: {
    mode: 'full',
    p1: {
      users: 1000,
      inFlight: 32,
      warmupMs: 1000,
      durationMs: 8000,
      clientWorkers: 2,
      publisherWorkers: 2,
    },
    p2: { connections: 10_000, rounds: 8, gapMs: 250, clientWorkers: 4 },
    p3: { connections: 10_000, warmup: 100, settleMs: 2000, clientWorkers: 2 },
    p4: { users: 1000, batchSize: 1000, inFlight: 4, warmupMs: 1000, durationMs: 8000, clientWorkers: 2 },
    p5: { connections: 19_000, window: 64, probePublishes: 200, clientWorkers: 4 },
    p6Engine: { users: 1000, warmup: 5000, notifications: 100_000, inFlight: 512 },
  },
  quick: {
    mode: 'quick',
    p1: { users: 1000, inFlight: 32, warmupMs: 500, durationMs: 2000, clientWorkers: 2, publisherWorkers: 2 },
    p2: { connections: 2000, rounds: 4, gapMs: 150, clientWorkers: 2 },
    p3: { connections: 2000, warmup: 100, settleMs: 1000, clientWorkers: 2 },
    p4: { users: 1000, batchSize: 1000, inFlight: 2, warmupMs: 300, durationMs: 2000, clientWorkers: 2 },
    p5: { connections: 3000, window: 64, probePublishes: 50, clientWorkers: 2 },
    p6Engine: { users: 1000, warmup: 2000, notifications: 20_000, inFlight: 256 },
  },
  smoke: {
    mode: 'smoke',
    p1: { users: 20, inFlight: 4, warmupMs: 200, durationMs: 1000, clientWorkers: 1, publisherWorkers: 1 },
    p2: { connections: 50, rounds: 2, gapMs: 50, clientWorkers: 1 },
    p3: { connections: 100, warmup: 10, settleMs: 200, clientWorkers: 1 },
    p4: { users: 20, batchSize: 50, inFlight: 1, warmupMs: 100, durationMs: 500, clientWorkers: 1 },
    p5: { connections: 100, window: 16, probePublishes: 10, clientWorkers: 1 },
    p6Engine: { users: 20, warmup: 100, notifications: 500, inFlight: 16 },
  },
};
