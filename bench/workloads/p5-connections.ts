import { withWorkers } from '../load/pool';
import { userIds } from '../load/payload';
import { rssKiB } from '../support/procstat';
import {
  collectDeliveries,
  lossAndExtra,
  note,
  openConnections,
  runPublishers,
  spread,
  startRecording,
  waitDelivered,
  withSystem,
} from './common';
import { atLeastTimes, heraldAtLeast, heraldAtMost } from './targets';
import type { Workload } from './workload';

/**
 * P5 connections: as many connections to one replica as the machine's 20,000 open files per process
 * allow (19,000), opened as fast as they are accepted (`window` handshakes in flight per load-generator
 * process); then a few publishes to random users check that the replica still delivers.
 */
export const p5: Workload = {
  id: 'P5',
  title: ({ p5: s }) =>
    `P5 connections — open ${s.connections.toLocaleString('en-US')} connections to 1 replica as fast as accepted ` +
    `(${s.window * s.clientWorkers} handshakes in flight), then ${s.probePublishes} publishes to random users`,
  rows: ({ p5: s }) => [
    {
      key: 'opened',
      label: 'connections open',
      better: 'higher',
      digits: 0,
      target: heraldAtLeast(s.connections, `${s.connections}`),
    },
    {
      key: 'connectErrors',
      label: 'connection errors',
      better: 'none',
      digits: 0,
      target: heraldAtMost(0, '0'),
    },
    {
      key: 'connectsPerSec',
      label: 'connects/s (to ready)',
      better: 'higher',
      digits: 0,
      target: atLeastTimes('peer', 1),
    },
    {
      key: 'probeDelivered',
      label: `probe publishes delivered (of ${s.probePublishes})`,
      better: 'higher',
      digits: 0,
    },
    {
      key: 'probeLost',
      label: 'probe lost + publish errors',
      better: 'none',
      digits: 0,
      target: heraldAtMost(0, '0'),
    },
    { key: 'probeP50', label: 'probe latency p50 (ms)', better: 'lower', digits: 1 },
    { key: 'rssMiB', label: 'RSS with all connections (MiB)', better: 'lower', digits: 0 },
  ],
  run: (adapter, { sizes: { p5: s } }) =>
    withSystem(adapter, 1, 'p5', (sys) =>
      withWorkers(s.clientWorkers + 1, `p5-${adapter.name}`, async (workers) => {
        const clients = workers.slice(0, s.clientWorkers);
        const publishers = workers.slice(s.clientWorkers);
        const users = userIds('c', s.connections);
        const open = await openConnections(clients, sys.client, spread(users, 1), {
          window: s.window,
          timeoutMs: 30_000,
        });
        await startRecording(clients);
        const probe = await runPublishers(publishers, {
          urls: [sys.publishUrl(0)],
          apiKey: sys.apiKey,
          inFlight: 4,
          durationMs: 30_000,
          maxRequests: s.probePublishes,
          users,
          batchSize: 0,
        });
        await waitDelivered(clients, probe.accepted, 10_000);
        const got = await collectDeliveries(clients);
        const { lost } = lossAndExtra(probe.expected, got.perUser);
        return {
          values: {
            opened: open.opened,
            connectErrors: open.errors + got.dropped,
            connectsPerSec: open.opened / ((open.lastOpenAt - open.startedAt) / 1000),
            probeDelivered: got.received,
            probeLost: lost + probe.errors,
            probeP50: got.latency.percentile(50),
            rssMiB: rssKiB(sys.pids[0]) / 1024,
          },
          notes: [
            ...note('connection errors', open.errors, open.errorSamples),
            ...note('connections dropped', got.dropped, got.dropSamples),
            ...note('probe publish errors', probe.errors, probe.errorSamples),
          ],
        };
      }),
    ),
};
