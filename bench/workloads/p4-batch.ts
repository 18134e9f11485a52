import { withWorkers } from '../load/pool';
import { userIds } from '../load/payload';
import type { PublishArgs } from '../load/protocol';
import { CpuMark } from '../support/procstat';
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
import { ERRORS_ROW, heraldAtLeast, LOADGEN_CPU_ROW, LOST_ROW } from './targets';
import type { Measurement, Workload } from './workload';

/**
 * P4 batch: P1's users on two replicas, publishing through the batch endpoint, `batchSize` personal
 * notifications (random users) per request, closed loop. The peer and the floor loop over their
 * single publish. `vsP1` (this rate over the system's own P1 delivered/s) is filled in by run.ts.
 */
export const p4: Workload = {
  id: 'P4',
  title: ({ p4: s }) =>
    `P4 batch — ${s.users} users on 2 replicas; POST /v1/notifications/batch with ${s.batchSize} personal ` +
    `notifications each, ${s.inFlight} requests in flight, ${s.durationMs / 1000} s`,
  rows: () => [
    { key: 'acceptedPerSec', label: 'notifications accepted/s', better: 'higher', digits: 0 },
    { key: 'deliveredPerSec', label: 'delivered/s', better: 'higher', digits: 0 },
    {
      key: 'vsP1',
      label: 'delivered/s ÷ own P1 delivered/s',
      better: 'higher',
      digits: 1,
      target: heraldAtLeast(5, '≥ 5'),
    },
    LOST_ROW,
    ERRORS_ROW,
    { key: 'p50', label: 'latency p50 (ms)', better: 'lower', digits: 1 },
    { key: 'p99', label: 'latency p99 (ms)', better: 'lower', digits: 1 },
    { key: 'cpuPerMsg', label: 'server CPU µs / delivered (2 replicas)', better: 'lower', digits: 1 },
    LOADGEN_CPU_ROW,
  ],
  run: (adapter, { sizes: { p4: s } }) =>
    withSystem(adapter, 2, 'p4', (sys) =>
      withWorkers(s.clientWorkers + 1, `p4-${adapter.name}`, async (workers): Promise<Measurement> => {
        const clients = workers.slice(0, s.clientWorkers);
        const publishers = workers.slice(s.clientWorkers);
        const users = userIds('u', s.users);
        const open = await openConnections(clients, sys.client, spread(users, 2), { window: 32 });
        const publish: PublishArgs = {
          urls: [sys.batchUrl(0), sys.batchUrl(1)],
          apiKey: sys.apiKey,
          inFlight: s.inFlight,
          durationMs: s.warmupMs,
          maxRequests: Number.MAX_SAFE_INTEGER,
          users,
          batchSize: s.batchSize,
        };
        const warm = await runPublishers(publishers, publish);
        if (warm.notFound)
          return { values: {}, notes: [], na: 'n/a: POST /v1/notifications/batch answers 404' };
        await waitDelivered(clients, warm.accepted, 10_000);

        await startRecording(clients);
        const loadgen = new CpuMark(workers.map((w) => w.pid));
        const cpu = new CpuMark(sys.pids);
        const pub = await runPublishers(publishers, { ...publish, durationMs: s.durationMs });
        await waitDelivered(clients, pub.accepted, 15_000);
        const [cpu0, cpu1] = cpu.since();
        const loadgenCpu = sum(loadgen.since());
        const got = await collectDeliveries(clients);
        const { lost, extra } = lossAndExtra(pub.expected, got.perUser);
        return {
          values: {
            acceptedPerSec: pub.accepted / ((pub.endedAt - pub.startedAt) / 1000),
            deliveredPerSec: got.received / ((got.lastReceivedAt - pub.startedAt) / 1000),
            lost,
            errors: pub.errors + open.errors + got.dropped + got.errorFrames,
            p50: got.latency.percentile(50),
            p99: got.latency.percentile(99),
            loadgenCpuPerMsg: (loadgenCpu * 1000) / Math.max(1, got.received),
            cpuPerMsg: ((cpu0 + cpu1) * 1000) / Math.max(1, got.received),
          },
          notes: [
            ...note('publish errors', pub.errors, pub.errorSamples),
            ...note('connection errors', open.errors, open.errorSamples),
            ...note('connections dropped', got.dropped, got.dropSamples),
            ...(extra > 0 ? [`${extra} notifications received more than once`] : []),
          ],
        };
      }),
    ),
};
