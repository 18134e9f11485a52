import { withWorkers } from '../load/pool';
import { userIds } from '../load/payload';
import type { PublishArgs } from '../load/protocol';
import { CpuMark, rssKiB } from '../support/procstat';
import {
  collectDeliveries,
  lossAndExtra,
  note,
  openConnections,
  runPublishers,
  spread,
  startRecording,
  sum,
  waitDelivered,
  withSystem,
} from './common';
import { atLeastTimes, atMostTimes, ERRORS_ROW, heraldAtMost, LOADGEN_CPU_ROW, LOST_ROW } from './targets';
import type { Sizes } from '../config';
import type { RunningSystem } from '../systems/system';
import type { Measurement, Workload } from './workload';

/**
 * P1 personal: two replicas hold the users (one connection each), a third holds none and takes no
 * publish; publishers post one notification per request to a random user, closed loop, alternating
 * between the two replicas that hold users. The idle replica's CPU shows what a replica spends on
 * messages for users it does not hold.
 */
export const p1: Workload = {
  id: 'P1',
  title: ({ p1: s }) =>
    `P1 personal — ${s.users} users (1 connection each) on 2 replicas + 1 idle replica; ` +
    `${s.inFlight} publishes in flight, 1 notification per POST to a random user, ${s.durationMs / 1000} s`,
  rows: () => [
    { key: 'publishesPerSec', label: 'publishes/s (202)', better: 'higher', digits: 0 },
    {
      key: 'deliveredPerSec',
      label: 'delivered/s',
      better: 'higher',
      digits: 0,
      target: atLeastTimes('peer', 1),
    },
    LOST_ROW,
    ERRORS_ROW,
    { key: 'p50', label: 'latency p50 (ms)', better: 'lower', digits: 2 },
    { key: 'p99', label: 'latency p99 (ms)', better: 'lower', digits: 2, target: atMostTimes([['peer', 1]]) },
    { key: 'publishRttP50', label: 'publish round trip p50 (ms)', better: 'lower', digits: 2 },
    { key: 'cpuPerMsg', label: 'server CPU µs / delivered (3 replicas)', better: 'lower', digits: 1 },
    {
      key: 'idleCpuPerMsg',
      label: 'idle replica CPU µs / delivered',
      better: 'lower',
      digits: 2,
      target: heraldAtMost(1, '≤ 1'),
    },
    { key: 'redisCpuPerMsg', label: 'Redis CPU µs / delivered', better: 'lower', digits: 1 },
    LOADGEN_CPU_ROW,
    { key: 'rssMiB', label: 'RSS per replica holding clients (MiB)', better: 'lower', digits: 0 },
  ],
  run: (adapter, { sizes }) =>
    withSystem(adapter, 3, 'p1', (sys) => runPersonal(sys, sizes.p1, `p1-${adapter.name}`)),
};

/** Called at both ends of P1's measured window (P6 reads the Redis nodes' counters there). */
export interface WindowProbe {
  begin(): Promise<void>;
  end(): Promise<void>;
}

/** P1's load on a started system (3 replicas), and its figures; `label` names the load generators' logs. */
export function runPersonal(
  sys: RunningSystem,
  s: Sizes['p1'],
  label: string,
  probe?: WindowProbe,
): Promise<Measurement> {
  return withWorkers(s.clientWorkers + s.publisherWorkers, label, async (workers) => {
    const clients = workers.slice(0, s.clientWorkers);
    const publishers = workers.slice(s.clientWorkers);
    const users = userIds('u', s.users);
    const open = await openConnections(clients, sys.client, spread(users, 2), { window: 32 });
    const publish: PublishArgs = {
      urls: [sys.publishUrl(0), sys.publishUrl(1)],
      apiKey: sys.apiKey,
      inFlight: s.inFlight,
      durationMs: s.warmupMs,
      maxRequests: Number.MAX_SAFE_INTEGER,
      users,
      batchSize: 0,
    };
    const warm = await runPublishers(publishers, publish);
    await waitDelivered(clients, warm.accepted, 5000);

    await startRecording(clients);
    await probe?.begin();
    const loadgen = new CpuMark(workers.map((w) => w.pid));
    const cpu = new CpuMark([...sys.pids, sys.engine.nodes[0].pid]);
    const pub = await runPublishers(publishers, { ...publish, durationMs: s.durationMs });
    await waitDelivered(clients, pub.accepted, 10_000);
    await probe?.end();
    const [cpu0, cpu1, cpuIdle, cpuRedis] = cpu.since();
    const loadgenCpu = sum(loadgen.since());
    const got = await collectDeliveries(clients);
    const { lost, extra } = lossAndExtra(pub.expected, got.perUser);
    const delivered = Math.max(1, got.received);
    return {
      values: {
        received: got.received,
        publishesPerSec: pub.accepted / ((pub.endedAt - pub.startedAt) / 1000),
        deliveredPerSec: got.received / ((got.lastReceivedAt - pub.startedAt) / 1000),
        lost,
        errors: pub.errors + open.errors + got.dropped + got.errorFrames,
        p50: got.latency.percentile(50),
        p99: got.latency.percentile(99),
        publishRttP50: pub.rtt.percentile(50),
        loadgenCpuPerMsg: (loadgenCpu * 1000) / Math.max(1, got.received),
        cpuPerMsg: ((cpu0 + cpu1 + cpuIdle) * 1000) / delivered,
        idleCpuPerMsg: (cpuIdle * 1000) / delivered,
        redisCpuPerMsg: (cpuRedis * 1000) / delivered,
        rssMiB: (rssKiB(sys.pids[0]) + rssKiB(sys.pids[1])) / 2 / 1024,
      },
      notes: [
        ...note('publish errors', pub.errors, pub.errorSamples),
        ...note('connection errors', open.errors, open.errorSamples),
        ...note('connections dropped', got.dropped, got.dropSamples),
        ...(extra > 0 ? [`${extra} notifications received more than once`] : []),
      ],
    };
  });
}
