import { withWorkers } from '../load/pool';
import { BENCH_TOPIC, topicBody, userIds } from '../load/payload';
import { errorMessage, monoMs, sleep } from '../support/clock';
import { httpRequest } from '../support/http';
import { CpuMark } from '../support/procstat';
import {
  collectDeliveries,
  lossAndExtra,
  median,
  note,
  openConnections,
  spread,
  startRecording,
  sum,
  withSystem,
} from './common';
import { atMostTimes, ERRORS_ROW, LOST_ROW } from './targets';
import type { Workload } from './workload';

/**
 * P2 topic fan-out: every connection, over two replicas, is subscribed to one topic; each round
 * publishes one notification to it (on replica 0) and waits until every client has it. The headline
 * is the time from the publish until the last client has it, median of the rounds.
 */
export const p2: Workload = {
  id: 'P2',
  title: ({ p2: s }) =>
    `P2 topic fan-out — ${s.connections.toLocaleString('en-US')} connections on topic:${BENCH_TOPIC} over 2 replicas; ` +
    `1 publish per round, ${s.rounds} rounds`,
  rows: () => [
    {
      key: 'lastClientMs',
      label: 'last client has it (ms, median of rounds)',
      better: 'lower',
      digits: 1,
      target: atMostTimes([
        ['floor', 1],
        ['peer', 0.5],
      ]),
    },
    { key: 'lastClientMaxMs', label: 'last client has it (ms, worst round)', better: 'lower', digits: 1 },
    { key: 'p50', label: 'latency p50 (ms)', better: 'lower', digits: 1 },
    { key: 'p99', label: 'latency p99 (ms)', better: 'lower', digits: 1 },
    LOST_ROW,
    ERRORS_ROW,
    { key: 'cpuPerMsg', label: 'server CPU µs / delivered (2 replicas)', better: 'lower', digits: 1 },
    { key: 'subscribeSecs', label: 'time to connect + subscribe all (s)', better: 'lower', digits: 1 },
  ],
  run: (adapter, { sizes: { p2: s } }) =>
    withSystem(adapter, 2, 'p2', (sys) =>
      withWorkers(s.clientWorkers, `p2-${adapter.name}`, async (clients) => {
        const open = await openConnections(clients, sys.client, spread(userIds('t', s.connections), 2), {
          topic: BENCH_TOPIC,
          window: 32,
        });
        await startRecording(clients, true);
        const cpu = new CpuMark(sys.pids);
        const headers = { authorization: `Bearer ${sys.apiKey}` };
        const lastClient: number[] = [];
        const publishErrors: string[] = [];
        let accepted = 0;
        for (let round = 0; round < s.rounds; round++) {
          const t = monoMs();
          try {
            const res = await httpRequest(sys.publishUrl(0), {
              method: 'POST',
              body: JSON.stringify(topicBody(BENCH_TOPIC, t)),
              headers,
            });
            if (res.status !== 202) throw new Error(`HTTP ${res.status} ${res.body.slice(0, 200)}`);
            accepted++;
          } catch (err) {
            publishErrors.push(errorMessage(err));
            continue;
          }
          const rounds = await Promise.all(
            clients.map((w) => w.call('awaitRound', { t, timeoutMs: 15_000 }, 20_000)),
          );
          if (sum(rounds.map((r) => r.received)) > 0)
            lastClient.push(Math.max(...rounds.map((r) => r.lastReceivedAt)) - t);
          await sleep(s.gapMs);
        }
        const [cpu0, cpu1] = cpu.since();
        const got = await collectDeliveries(clients);
        const expected = new Map([...got.perUser.keys()].map((user) => [user, accepted]));
        const { lost, extra } = lossAndExtra(expected, got.perUser);
        return {
          values: {
            lastClientMs: median(lastClient),
            lastClientMaxMs: Math.max(...lastClient),
            p50: got.latency.percentile(50),
            p99: got.latency.percentile(99),
            lost,
            errors: publishErrors.length + open.errors + got.dropped + got.errorFrames,
            cpuPerMsg: ((cpu0 + cpu1) * 1000) / Math.max(1, got.received),
            subscribeSecs: (open.lastOpenAt - open.startedAt) / 1000,
          },
          notes: [
            ...note('publish errors', publishErrors.length, publishErrors),
            ...note('connection errors', open.errors, open.errorSamples),
            ...note('connections dropped', got.dropped, got.dropSamples),
            ...(extra > 0 ? [`${extra} notifications received more than once`] : []),
          ],
        };
      }),
    ),
};
