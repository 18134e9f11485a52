import { withWorkers } from '../load/pool';
import { userIds } from '../load/payload';
import { note, openConnections, settledRssKiB, spread, withSystem } from './common';
import { heraldAtMost } from './targets';
import type { Workload } from './workload';

/**
 * P3 idle memory: one replica; after a few warm-up connections, RSS is read (settled), then many
 * authenticated connections are opened and left idle, and RSS is read again. The figure is the
 * growth per connection.
 */
export const p3: Workload = {
  id: 'P3',
  title: ({ p3: s }) =>
    `P3 idle memory — ${s.connections.toLocaleString('en-US')} authenticated idle connections on 1 replica, ` +
    `after ${s.warmup} warm-up connections`,
  rows: ({ p3: s }) => [
    {
      key: 'kibPerConn',
      label: 'RSS growth per connection (KiB)',
      better: 'lower',
      digits: 1,
      target: heraldAtMost(8),
    },
    { key: 'rssBeforeMiB', label: `RSS with ${s.warmup} connections (MiB)`, better: 'lower', digits: 1 },
    {
      key: 'rssAfterMiB',
      label: `RSS with ${s.warmup + s.connections} connections (MiB)`,
      better: 'lower',
      digits: 1,
    },
    { key: 'errors', label: 'connection errors', better: 'none', digits: 0, target: heraldAtMost(0, '0') },
  ],
  run: (adapter, { sizes: { p3: s } }) =>
    withSystem(adapter, 1, 'p3', (sys) =>
      withWorkers(s.clientWorkers, `p3-${adapter.name}`, async (clients) => {
        const pid = sys.pids[0];
        const warm = await openConnections(
          clients.slice(0, 1),
          sys.client,
          spread(userIds('w', s.warmup), 1),
          { window: 16 },
        );
        const before = await settledRssKiB(pid, s.settleMs);
        const open = await openConnections(clients, sys.client, spread(userIds('m', s.connections), 1), {
          window: 32,
        });
        const after = await settledRssKiB(pid, s.settleMs);
        return {
          values: {
            kibPerConn: (after - before) / open.opened,
            rssBeforeMiB: before / 1024,
            rssAfterMiB: after / 1024,
            errors: warm.errors + open.errors,
          },
          notes: note('connection errors', warm.errors + open.errors, [
            ...warm.errorSamples,
            ...open.errorSamples,
          ]),
        };
      }),
    ),
};
