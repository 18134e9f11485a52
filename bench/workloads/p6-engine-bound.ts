import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { monoMs } from '../support/clock';
import { repoRoot } from '../support/paths';
import { BenchEngine, EngineKind, infoField, RedisWrap, startSingleRedis, withNode } from '../support/redis';
import { startRedisCluster } from '../support/redis-cluster';
import { CLUSTER_MASTERS } from '../systems/system';

/** The parts of Herald's built engine this phase drives (dist/, loaded at run time: it is not bench code). */
interface HeraldBroker {
  publish(
    draft: { id: string; type: string; payload: unknown; createdAt: string },
    channels: string[],
  ): Promise<unknown>;
  subscribe(channel: string): Promise<void>;
  onMessage(listener: (message: { channel: string }) => void): void;
  close(): Promise<void>;
}
type ConnectRedisEngine = (
  topology: object,
  history: { historySize: number; historyTtlSeconds: number },
  metrics: object,
) => Promise<{ broker: HeraldBroker }>;

export interface EngineBoundSizes {
  users: number;
  warmup: number;
  notifications: number;
  inFlight: number;
}

export interface EngineBoundResult {
  /** What the meter counted per notification, per data node (one Redis: one entry); by default Redis CPU (µs). */
  perMsg: number[];
  /** Notifications per second the driver reached (bounded by this process, not by Redis). */
  perSec: number;
}

const DELIVERY_TIMEOUT_MS = 60_000;

const cpuMs = (port: number): Promise<number> =>
  withNode(port, async (redis) => {
    const cpu = await redis.info('cpu');
    return (Number(infoField(cpu, 'used_cpu_sys')) + Number(infoField(cpu, 'used_cpu_user'))) * 1000;
  });

/** What the phase counts on every data node over its measured window. */
export interface Meter {
  begin(nodes: BenchEngine['nodes']): Promise<void>;
  /** The amount per node since begin, in the nodes' order. */
  end(nodes: BenchEngine['nodes']): Promise<number[]>;
}

/** Redis CPU (µs), from INFO cpu. */
export function cpuMeter(): Meter {
  let before: number[] = [];
  const read = (nodes: BenchEngine['nodes']) => Promise.all(nodes.map(({ port }) => cpuMs(port)));
  return {
    begin: async (nodes) => void (before = await read(nodes)),
    end: async (nodes) => (await read(nodes)).map((ms, i) => (ms - before[i]) * 1000),
  };
}

/**
 * Herald's engine as fast as the bench process can drive it, with no HTTP or WebSocket in the way:
 * two brokers of the built app (`dist/engine/redis-engine.js`) on a fresh one Redis or 3-master
 * cluster — one holds a subscription on every user's channel (a replica holding the users), the
 * other publishes single-user notifications, `inFlight` at a time, through the broker's own publish
 * path: on one Redis its writes share script calls of up to 256 (as a replica's concurrent POSTs do),
 * on a cluster one call per master carries the writes of one turn. What P1 cannot show on this 2-core machine: with hundreds of
 * notifications in flight, Redis's per-read costs fade and the CPU per notification is the script's
 * own, so the busiest master's share of it is the figure that says what a cluster carries.
 */
export async function runEngineBound(
  kind: EngineKind,
  sizes: EngineBoundSizes,
  label: string,
  { meter = cpuMeter(), wrap }: { meter?: Meter; wrap?: RedisWrap } = {},
): Promise<EngineBoundResult | undefined> {
  const enginePath = join(repoRoot, 'dist', 'engine', 'redis-engine.js');
  if (!existsSync(enginePath)) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { connectRedisEngine } = require(enginePath) as { connectRedisEngine: ConnectRedisEngine };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Metrics } = require(join(repoRoot, 'dist', 'metrics', 'metrics.js')) as {
    Metrics: new () => object;
  };
  const engine: BenchEngine =
    kind === 'cluster'
      ? await startRedisCluster(label, CLUSTER_MASTERS, wrap)
      : await startSingleRedis(label, wrap);
  const brokers: HeraldBroker[] = [];
  try {
    const topology =
      kind === 'cluster'
        ? {
            mode: 'cluster',
            seeds: engine.nodes.map(({ port }) => ({ host: '127.0.0.1', port })),
            minReplicasAck: 0,
          }
        : { mode: 'single', url: engine.address, minReplicasAck: 0 };
    const connect = async () => {
      const { broker } = await connectRedisEngine(
        topology,
        { historySize: 1000, historyTtlSeconds: 86_400 },
        new Metrics(),
      );
      brokers.push(broker);
      return broker;
    };
    const [holder, publisher] = [await connect(), await connect()];
    const channels = Array.from({ length: sizes.users }, (_, i) => `user:bench-${i}`);
    await Promise.all(channels.map((channel) => holder.subscribe(channel)));
    let received = 0;
    holder.onMessage(() => (received += 1));

    let sent = 0;
    const publishAll = async (count: number) => {
      const target = sent + count;
      const loop = async () => {
        while (sent < target) {
          const n = sent++;
          await publisher.publish(
            {
              id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
              type: 'bench',
              payload: { t: n, pad: 'x'.repeat(48) },
              createdAt: new Date().toISOString(),
            },
            [channels[n % channels.length]],
          );
        }
      };
      await Promise.all(Array.from({ length: sizes.inFlight }, loop));
      const deadline = Date.now() + DELIVERY_TIMEOUT_MS;
      while (received < target) {
        if (Date.now() > deadline) throw new Error(`${target - received} notifications not delivered`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    await publishAll(sizes.warmup);
    await meter.begin(engine.nodes);
    const started = monoMs();
    await publishAll(sizes.notifications);
    const elapsedMs = monoMs() - started;
    const counted = await meter.end(engine.nodes);
    return {
      perMsg: counted.map((amount) => amount / sizes.notifications),
      perSec: (sizes.notifications * 1000) / elapsedMs,
    };
  } finally {
    await Promise.allSettled(brokers.map((broker) => broker.close()));
    await engine.stop();
  }
}
