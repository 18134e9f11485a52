import { sleep } from '../support/clock';
import { infoField, withNode } from '../support/redis';
import { CLUSTER_MASTERS, RunningSystem } from '../systems/system';
import { withSystem } from './common';
import { runPersonal } from './p1-personal';
import { runEngineBound } from './p6-engine-bound';
import { atLeastTimes, atMostTimes, ERRORS_ROW, heraldAtLeast, heraldAtMost, LOST_ROW } from './targets';
import type { Measurement, Workload } from './workload';

/** What one Redis node has done so far: CPU (INFO cpu) and messages sent on the cluster bus (CLUSTER INFO). */
interface NodeCounters {
  cpuMs: number;
  /** The kernel's part of cpuMs (used_cpu_sys): reads, writes and polls of the node's connections. */
  sysMs: number;
  busPublish: number;
  busPublishShard: number;
}

async function nodeCounters(port: number, cluster: boolean): Promise<NodeCounters> {
  return withNode(port, async (redis) => {
    const cpu = await redis.info('cpu');
    const bus = cluster ? ((await redis.call('CLUSTER', 'INFO')) as string) : '';
    // CLUSTER INFO lists a message type only once one was sent.
    const count = (name: string): number => Number(infoField(bus, name) ?? 0);
    return {
      cpuMs: (Number(infoField(cpu, 'used_cpu_sys')) + Number(infoField(cpu, 'used_cpu_user'))) * 1000,
      sysMs: Number(infoField(cpu, 'used_cpu_sys')) * 1000,
      busPublish: count('cluster_stats_messages_publish_sent'),
      busPublishShard: count('cluster_stats_messages_publishshard_sent'),
    };
  });
}

/** How long each node's idle CPU rate is sampled after the load, with the system still up (ms). */
const IDLE_SAMPLE_MS = 2000;

/** One node over the measured window: counters' deltas, and its CPU rate with no load (ms per s). */
interface NodeWindow extends NodeCounters {
  idleCpuMsPerSec: number;
}

/**
 * P1's load, with every Redis node's counters read at both ends of the measured window; then each
 * node's idle CPU rate (serverCron, cluster gossip, the replicas' slot-map reads and probes), sampled
 * with no load: when a slow, shared machine delivers few notifications per second, that fixed cost is
 * most of the CPU per notification, and the rows say so.
 */
async function measure(
  sys: RunningSystem,
  sizes: Parameters<typeof runPersonal>[1],
  label: string,
): Promise<{ m: Measurement; nodes: NodeWindow[] }> {
  const read = () =>
    Promise.all(sys.engine.nodes.map(({ port }) => nodeCounters(port, sys.engine.kind === 'cluster')));
  let before: NodeCounters[] = [];
  let after: NodeCounters[] = [];
  const m = await runPersonal(sys, sizes, label, {
    begin: async () => void (before = await read()),
    end: async () => void (after = await read()),
  });
  const idleFrom = await read();
  await sleep(IDLE_SAMPLE_MS);
  const idleTo = await read();
  const nodes = after.map((a, i) => ({
    cpuMs: a.cpuMs - before[i].cpuMs,
    sysMs: a.sysMs - before[i].sysMs,
    idleCpuMsPerSec: ((idleTo[i].cpuMs - idleFrom[i].cpuMs) * 1000) / IDLE_SAMPLE_MS,
    busPublish: a.busPublish - before[i].busPublish,
    busPublishShard: a.busPublishShard - before[i].busPublishShard,
  }));
  return { m, nodes };
}

/**
 * P6 scale-out: P1's workload (users on 2 replicas, an idle third, a closed loop of single-user
 * POSTs) on one Redis and on a 3-master Redis Cluster, per system. Herald uses sharded pub/sub on the
 * cluster; the peer becomes Socket.IO's sharded adapter (`createShardedAdapter` on an ioredis Cluster
 * with `shardedSubscribers: true`, one channel per user room). Redis CPU is INFO's
 * used_cpu_sys + used_cpu_user per node over the measured window, per notification delivered: on a
 * cluster, the busiest master's. Its ratio to the single Redis's shows how much of the load one shard
 * carries — on this 2-core machine the replicas, not Redis, bound delivered/s, so that ratio is what
 * shows the Redis ceiling moving; the ceiling rows turn it into notifications per second one core per
 * Redis node would carry.
 */
export const p6: Workload = {
  id: 'P6',
  engines: ['redis', 'cluster'],
  starts: 2,
  title: ({ p1: s }) =>
    `P6 scale-out — P1 (${s.users} users on 2 replicas + 1 idle, ${s.inFlight} in flight, ` +
    `${s.durationMs / 1000} s) on one Redis, then on a 3-master Redis Cluster; peer: classic adapter, ` +
    'then the sharded adapter',
  rows: () => [
    { key: 'deliveredPerSecRedis', label: 'delivered/s, one Redis', better: 'higher', digits: 0 },
    {
      key: 'deliveredPerSecCluster',
      label: 'delivered/s, cluster',
      better: 'higher',
      digits: 0,
      target: atLeastTimes('peer', 1),
    },
    {
      key: 'clusterVsRedis',
      label: 'delivered/s, cluster ÷ one Redis',
      better: 'higher',
      digits: 2,
      target: heraldAtLeast(0.9),
    },
    LOST_ROW,
    ERRORS_ROW,
    { key: 'p99Redis', label: 'latency p99, one Redis (ms)', better: 'lower', digits: 2 },
    {
      key: 'p99Cluster',
      label: 'latency p99, cluster (ms)',
      better: 'lower',
      digits: 2,
      target: atMostTimes([['peer', 1]]),
    },
    {
      key: 'serverCpuRedis',
      label: 'server CPU µs / delivered (3 replicas), one Redis',
      better: 'lower',
      digits: 1,
    },
    {
      key: 'serverCpuCluster',
      label: 'server CPU µs / delivered (3 replicas), cluster',
      better: 'lower',
      digits: 1,
    },
    { key: 'redisCpuPerMsg', label: 'Redis CPU µs / delivered, one Redis', better: 'lower', digits: 2 },
    {
      key: 'busiestShardCpuPerMsg',
      label: "busiest master's Redis CPU µs / delivered, cluster",
      better: 'lower',
      digits: 2,
    },
    {
      key: 'busiestVsRedis',
      label: "busiest master's CPU per notification ÷ one Redis's",
      better: 'lower',
      digits: 2,
      target: heraldAtMost(0.4, '≤ 0.4'),
    },
    { key: 'mastersCpuPerMsg', label: 'all masters CPU µs / delivered, cluster', better: 'lower', digits: 2 },
    {
      key: 'ceilingRedis',
      label: 'Redis-bound ceiling, one Redis: notifications/s at 1 core',
      better: 'higher',
      digits: 0,
    },
    {
      key: 'ceilingCluster',
      label: 'Redis-bound ceiling, 3 masters: notifications/s at 1 core each',
      better: 'higher',
      digits: 0,
    },
    {
      key: 'engineCpuRedis',
      label: 'engine-bound: Redis CPU µs / notification, one Redis',
      better: 'lower',
      digits: 2,
    },
    {
      key: 'engineCpuBusiest',
      label: "engine-bound: busiest master's CPU µs / notification, cluster",
      better: 'lower',
      digits: 2,
    },
    {
      key: 'engineBusiestVsRedis',
      label: "engine-bound: busiest master's CPU per notification ÷ one Redis's",
      better: 'lower',
      digits: 2,
      target: heraldAtMost(0.4, '≤ 0.4'),
    },
    {
      key: 'engineCeilingRedis',
      label: 'engine-bound ceiling, one Redis: notifications/s at 1 core',
      better: 'higher',
      digits: 0,
    },
    {
      key: 'engineCeilingCluster',
      label: 'engine-bound ceiling, 3 masters: notifications/s at 1 core each',
      better: 'higher',
      digits: 0,
    },
    {
      key: 'enginePerSecRedis',
      label: 'engine-bound: notifications/s the driver reached, one Redis',
      better: 'none',
      digits: 0,
    },
    {
      key: 'enginePerSecCluster',
      label: 'engine-bound: notifications/s the driver reached, cluster',
      better: 'none',
      digits: 0,
    },
    { key: 'redisIdleCpu', label: 'Redis idle CPU, one Redis (ms/s)', better: 'none', digits: 1 },
    {
      key: 'busiestIdleCpu',
      label: "busiest master's idle CPU, cluster (ms/s)",
      better: 'none',
      digits: 1,
    },
    {
      key: 'busPublishPerMsg',
      label: 'cluster bus: classic PUBLISH messages / delivered',
      better: 'none',
      digits: 2,
    },
    {
      key: 'busPublishShardPerMsg',
      label: 'cluster bus: sharded PUBLISH messages / delivered',
      better: 'none',
      digits: 2,
    },
  ],
  run: async (adapter, ctx) => {
    const { sizes } = ctx;
    const single = await withSystem(adapter, 3, 'p6-redis', (sys) =>
      measure(sys, sizes.p1, `p6-redis-${adapter.name}`),
    );
    ctx.log(`P6 ${adapter.name}: one Redis done, now on the cluster`);
    const cluster = await withSystem(
      adapter,
      3,
      'p6-cluster',
      (sys) => measure(sys, sizes.p1, `p6-cluster-${adapter.name}`),
      'cluster',
    );
    // Herald's own engine, driven straight (the peer's Redis work per notification is one PUBLISH).
    const engineBound =
      adapter.name === 'herald'
        ? {
            single: await runEngineBound('redis', sizes.p6Engine, 'p6-engine-redis'),
            // As many in flight per master as the one Redis gets: at a Redis-bound rate every master
            // has as much queued as one Redis would.
            cluster: await runEngineBound(
              'cluster',
              { ...sizes.p6Engine, inFlight: sizes.p6Engine.inFlight * CLUSTER_MASTERS },
              'p6-engine-cluster',
            ),
          }
        : undefined;
    const engineValues: Record<string, number> = {};
    if (engineBound?.single && engineBound.cluster) {
      const [one] = engineBound.single.perMsg;
      const busiestMaster = Math.max(...engineBound.cluster.perMsg);
      Object.assign(engineValues, {
        engineCpuRedis: one,
        engineCpuBusiest: busiestMaster,
        engineBusiestVsRedis: busiestMaster / one,
        engineCeilingRedis: 1e6 / one,
        engineCeilingCluster: 1e6 / busiestMaster,
        enginePerSecRedis: engineBound.single.perSec,
        enginePerSecCluster: engineBound.cluster.perSec,
      });
      ctx.log(
        `P6 engine-bound: one Redis ${one.toFixed(2)} µs/notification, masters ` +
          engineBound.cluster.perMsg.map((v) => v.toFixed(2)).join(' / '),
      );
    }
    const received = (m: Measurement): number => Math.max(1, m.values.received);
    const perMsg = (ms: number, m: Measurement): number => (ms * 1000) / received(m);
    const redisCpuPerMsg = perMsg(single.nodes[0].cpuMs, single.m);
    const shardCpu = cluster.nodes.map((n) => perMsg(n.cpuMs, cluster.m));
    const busiest = Math.max(...shardCpu);
    const share = ({ sysMs, cpuMs }: NodeWindow): string => `${Math.round((100 * sysMs) / cpuMs)} %`;
    const total = (key: keyof NodeWindow): number => cluster.nodes.reduce((n, c) => n + c[key], 0);
    return {
      values: {
        deliveredPerSecRedis: single.m.values.deliveredPerSec,
        deliveredPerSecCluster: cluster.m.values.deliveredPerSec,
        clusterVsRedis: cluster.m.values.deliveredPerSec / single.m.values.deliveredPerSec,
        lost: single.m.values.lost + cluster.m.values.lost,
        errors: single.m.values.errors + cluster.m.values.errors,
        p99Redis: single.m.values.p99,
        p99Cluster: cluster.m.values.p99,
        serverCpuRedis: single.m.values.cpuPerMsg,
        serverCpuCluster: cluster.m.values.cpuPerMsg,
        redisCpuPerMsg,
        busiestShardCpuPerMsg: busiest,
        busiestVsRedis: busiest / redisCpuPerMsg,
        mastersCpuPerMsg: shardCpu.reduce((a, b) => a + b, 0),
        ceilingRedis: 1e6 / redisCpuPerMsg,
        ceilingCluster: 1e6 / busiest,
        redisIdleCpu: single.nodes[0].idleCpuMsPerSec,
        busiestIdleCpu: cluster.nodes[shardCpu.indexOf(busiest)].idleCpuMsPerSec,
        busPublishPerMsg: total('busPublish') / received(cluster.m),
        busPublishShardPerMsg: total('busPublishShard') / received(cluster.m),
        ...engineValues,
      },
      notes: [
        `masters' CPU µs / delivered: ${shardCpu.map((v) => v.toFixed(2)).join(', ')}`,
        `kernel's part (used_cpu_sys) of that CPU: one Redis ${share(single.nodes[0])}, masters ` +
          cluster.nodes.map(share).join(', '),
        ...(engineBound?.cluster
          ? [
              `engine-bound masters' CPU µs / notification: ${engineBound.cluster.perMsg.map((v) => v.toFixed(2)).join(', ')}`,
            ]
          : []),
        ...single.m.notes.map((n) => `one Redis: ${n}`),
        ...cluster.m.notes.map((n) => `cluster: ${n}`),
      ],
    };
  },
};
