import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startApp, TestApp } from '../support/app';
import { aToken, publish } from '../support/client';
import { httpRequest } from '../support/http';
import { startRedis } from '../support/redis';
import { startRedisCluster } from '../support/redis-cluster';
import { sleep, waitUntil } from '../support/wait';

export interface ChaosOptions {
  seconds: number;
  clients: number;
  replicas: number;
  /** ms between random client drops */
  dropEveryMs: number;
  /**
   * On a Redis Cluster (3 masters with a replica each) instead of one Redis: the Redis faults are a
   * manual failover, a slot migration held open and a master kill, all on the busy topic's slot.
   */
  cluster?: boolean;
  log?: (line: string) => void;
}

export interface ChaosReport {
  accepted: number;
  /** Accepted notifications that reached the clients that should have them, counted once per client. */
  delivered: number;
  expected: number;
  /** Expected deliveries that never arrived, and that no epoch end or `recovered: false` accounts for. */
  lost: number;
  /**
   * Expected deliveries that never arrived where the contract allows it: of an epoch the client then
   * saw end (the engine lost acknowledged writes and the channel started a new life), or at or before
   * the position a `recovered: false` answer put the client at.
   */
  excused: number;
  /** Channel lives that ended during the run (a channel's epochs among accepted notifications, beyond the first). */
  epochsEnded: number;
  duplicates: number;
  outOfOrder: number;
  /** Delivered but never answered 202 (a publish stored before its response was lost). */
  unacknowledged: number;
  unrecovered: number;
  reconnects: number;
  /** Subscribes a client sent again after the engine failed one (`error` code `internal`). */
  subscribeRetries: number;
  publishRetries: number;
  /** The engine and replica faults injected, in order, with the run's time (s) at which each ended. */
  faults: string[];
  /** The first lost deliveries: channel, epoch, offset, id, when accepted, and the client's steps around it. */
  lostDetails: string[];
}

const TOPIC = 'chaos';
/** The busy channel: every client is on it, and a fifth of the publishes go to it. */
const TOPIC_CHANNEL = `topic:${TOPIC}`;
const HEARTBEAT_INTERVAL_MS = '2000';
/** A replica's start-up until /health/ready (ms); generous, as the run shares its CPUs with the engine's nodes. */
const REPLICA_READY_TIMEOUT_MS = 30_000;

interface Position {
  offset: number;
  epoch: string;
}

/** One notification as a publish's 202 placed it in a channel (`at`: ms into the run, when answered). */
interface Placed extends Position {
  id: string;
  at?: number;
}

/**
 * One step of a client on a channel: a notification it received (with its id), or a position it was
 * put at without one (`position`: learnt by a plain subscribe, or given by a `recovered: false`).
 */
interface Step extends Position {
  id?: string;
  unrecovered?: boolean;
}

/**
 * A minimal client that keeps the promise's side of the bargain: on every reconnect it recovers its
 * personal channel (query) and the topic (subscribe with offset/epoch) from the last offsets it saw;
 * when the engine fails a subscribe or its replay (`error` code `internal` naming the channel), it
 * sends the recovery again from the same position, taking nothing of that channel until the answer.
 */
class ChaosClient {
  /** Per channel, what happened on it, in order. */
  readonly steps = new Map<string, Step[]>();
  unrecovered = 0;
  reconnects = 0;
  private readonly positions = new Map<string, Position>();
  /** Channels with a plain subscribe in flight (learning a position, not recovering). */
  private readonly learning = new Set<string>();
  /** Channels with a recovery in flight, and the position it recovers from. */
  private readonly recovering = new Map<string, Position>();
  /** Subscribes sent again after an `internal` error frame. */
  subscribeRetries = 0;
  /** The replica the current (or last) connection went to. */
  url = '';
  private socket: WebSocket | undefined;
  private stopped = false;

  constructor(
    readonly userId: string,
    private readonly pickUrl: () => string,
  ) {}

  get personal(): string {
    return `user:${this.userId}`;
  }

  get channels(): string[] {
    return [this.personal, TOPIC_CHANNEL];
  }

  connect(): void {
    if (this.stopped) return;
    this.recovering.clear();
    const query = new URLSearchParams({ access_token: aToken({ sub: this.userId, topics: [TOPIC] }) });
    const personal = this.positions.get(this.personal);
    if (personal) {
      query.set('offset', String(personal.offset));
      query.set('epoch', personal.epoch);
      this.recovering.set(this.personal, personal);
    }
    this.url = this.pickUrl();
    const socket = new WebSocket(`${this.url}?${query.toString()}`);
    this.socket = socket;
    socket.on('error', () => undefined);
    socket.on('message', (raw: Buffer) =>
      this.onFrame(socket, JSON.parse(raw.toString()) as { event: string; data: Record<string, unknown> }),
    );
    socket.on('close', () => {
      if (this.stopped) return;
      this.reconnects += 1;
      setTimeout(() => this.connect(), 50 + Math.random() * 200);
    });
  }

  /** True once it knows where it stands on both its channels (so it can recover them). */
  get settled(): boolean {
    return this.channels.every((channel) => this.positions.has(channel));
  }

  drop(): void {
    this.socket?.terminate();
  }

  stop(): void {
    this.stopped = true;
    this.socket?.terminate();
  }

  private onFrame(socket: WebSocket, frame: { event: string; data: Record<string, unknown> }): void {
    if (frame.event === 'ready') {
      // Recover the topic from where we were; learn the position of a channel we know nothing of yet.
      for (const channel of [TOPIC_CHANNEL, ...(this.positions.has(this.personal) ? [] : [this.personal])])
        this.subscribe(socket, channel, this.positions.get(channel));
    } else if (frame.event === 'subscribed') {
      const { channel, offset, epoch, recovered } = frame.data as {
        channel: string;
        offset: number;
        epoch: string;
        recovered: boolean;
      };
      this.recovering.delete(channel);
      if (this.learning.delete(channel)) {
        if (!this.positions.has(channel)) this.step(channel, { offset, epoch });
      } else if (!recovered) {
        this.unrecovered += 1;
        this.step(channel, { offset, epoch, unrecovered: true });
      }
    } else if (frame.event === 'notification') {
      const { id, channel, offset, epoch } = frame.data as unknown as Placed & { channel: string };
      // Before a recovery's answer, a notification is one the replay brings again, in its place.
      if (!this.recovering.has(channel)) this.step(channel, { id, offset, epoch });
    } else if (frame.event === 'error') {
      const { code, channel } = frame.data as { code: string; channel?: string };
      // The engine failed the join or its replay: ask again, from where we stood (PROTOCOL.md).
      if (code !== 'internal' || channel === undefined) return;
      this.subscribeRetries += 1;
      const from = this.recovering.get(channel) ?? this.positions.get(channel);
      if (from) this.recovering.set(channel, from);
      setTimeout(() => {
        if (socket === this.socket && socket.readyState === WebSocket.OPEN)
          this.subscribe(socket, channel, from);
      }, 100);
    }
  }

  /** A plain subscribe (to learn the position) without `from`; a recovery from it with. */
  private subscribe(socket: WebSocket, channel: string, from: Position | undefined): void {
    if (from) this.recovering.set(channel, from);
    else this.learning.add(channel);
    socket.send(JSON.stringify({ event: 'subscribe', data: { channel, ...(from ?? {}) } }));
  }

  private step(channel: string, step: Step): void {
    const steps = this.steps.get(channel);
    if (steps) steps.push(step);
    else this.steps.set(channel, [step]);
    this.positions.set(channel, { offset: step.offset, epoch: step.epoch });
  }
}

/** What one client got on one channel, against what was accepted there. */
interface ChannelCheck {
  delivered: number;
  lost: number;
  excused: number;
  duplicates: number;
  outOfOrder: number;
  unacknowledged: number;
  /** The lost ones. */
  missed: Placed[];
}

/**
 * Compares one client's steps on a channel with the channel's accepted notifications: each accepted
 * one arrived once, and within an epoch offsets only grow. A missing one is excused only where the
 * client was told: in an epoch it then saw end (it went on in a later one), after the last position
 * it had in that epoch or at an offset it had seen taken by another notification (the engine lost
 * acknowledged writes and gave their offsets again); or at or before a position a `recovered: false`
 * answer put it at. A hole inside what it received of an epoch is never excused.
 */
function checkChannel(accepted: readonly Placed[], steps: readonly Step[]): ChannelCheck {
  const got = steps.filter((step): step is Placed => step.id !== undefined);
  const ids = new Set(got.map(({ id }) => id));
  const acceptedIds = new Set(accepted.map(({ id }) => id));
  const epochs = [...new Set(steps.map(({ epoch }) => epoch))];
  const ended = new Set(epochs.slice(0, -1));
  const lastIn = (epoch: string) =>
    Math.max(0, ...steps.filter((step) => step.epoch === epoch).map(({ offset }) => offset));
  const told = ({ epoch, offset }: Placed) =>
    (ended.has(epoch) &&
      (offset > lastIn(epoch) || got.some((step) => step.epoch === epoch && step.offset === offset))) ||
    steps.some((step) => step.unrecovered && step.epoch === epoch && offset <= step.offset);
  const missing = accepted.filter(({ id }) => !ids.has(id));
  const missed = missing.filter((placed) => !told(placed));
  const excused = missing.length - missed.length;
  return {
    delivered: accepted.length - missing.length,
    lost: missed.length,
    missed,
    excused,
    duplicates: got.length - ids.size,
    outOfOrder: got.filter(
      (placed, i) => i > 0 && placed.epoch === got[i - 1].epoch && placed.offset <= got[i - 1].offset,
    ).length,
    unacknowledged: [...ids].filter((id) => !acceptedIds.has(id)).length,
  };
}

/** The engine under the replicas: how they reach it, its faults, and its end. */
interface ChaosEngine {
  env: Record<string, string>;
  /**
   * Runs the engine's faults in turn, `pauseMs` apart; resolves once the engine is healthy again.
   * `publishToTopic(count, withinMs)` publishes to the busy topic and resolves with how many were
   * accepted within `withinMs` (the rest go on retrying).
   */
  faults(
    pauseMs: number,
    note: (fault: string) => void,
    publishToTopic: (count: number, withinMs: number) => Promise<number>,
  ): Promise<void>;
  stop(): Promise<void>;
}

/** One Redis with AOF on, restarted once. */
async function singleRedis(): Promise<ChaosEngine> {
  const redis = await startRedis({ appendonly: true, shared: false });
  return {
    env: { REDIS_URL: redis.url },
    faults: async (_pauseMs, note) => {
      note('restarting Redis');
      await redis.shutdown();
      await sleep(300);
      await redis.restart();
      note('Redis is back');
    },
    stop: () => redis.stop(),
  };
}

/**
 * A Redis Cluster of 3 masters with a replica each. Its faults all hit the busy topic's slot: a
 * manual failover of its master, a migration of the slot to another master held open for 300 ms and
 * 5 more publishes to the topic (keys moved, ownership not yet: those publishes land on the new
 * owner while subscribers are still on the old one), then a SIGKILL of the master now serving it
 * (its replica takes over after the node timeout).
 */
async function redisCluster(): Promise<ChaosEngine> {
  const cluster = await startRedisCluster();
  const slot = await cluster.keySlot(`herald:{${TOPIC_CHANNEL}}`);
  return {
    env: { REDIS_CLUSTER_NODES: cluster.seeds },
    faults: async (pauseMs, note, publishToTopic) => {
      const { demoted, promoted } = await cluster.failover(slot);
      note(`failover of slot ${slot}: ${demoted.port} → ${promoted.port}`);
      await sleep(pauseMs);
      const owner = await cluster.masterOf(slot);
      const target = (await cluster.nodes()).find(
        (node) => node.role === 'master' && node.alive && !node.failed && node.id !== owner.id,
      );
      if (!target) throw new Error(`no other master to migrate slot ${slot} to`);
      let inWindow = 0;
      await cluster.migrateSlot(slot, target.id, {
        holdOpenMs: 300,
        whileOpen: async () => {
          inWindow = await publishToTopic(5, 1000);
        },
      });
      note(
        `migration of slot ${slot}: ${owner.port} → ${target.port}, held open 300 ms and for 5 more ` +
          `topic publishes (${inWindow} accepted while open)`,
      );
      await sleep(pauseMs);
      const { killed, promoted: heir } = await cluster.killMaster(slot);
      note(`kill of master ${killed.port} (slot ${slot}): ${heir.port} took over`);
    },
    stop: () => cluster.stop(),
  };
}

/**
 * N clients on R replicas, a steady publisher (idempotent retries on another replica after a
 * failure), random client drops, one replica killed and restarted, then the engine's faults (one
 * Redis restart, or on a cluster a failover, a slot migration and a master kill). At the end every
 * client's sequence per channel is compared with what was accepted (202).
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const accepted = new Map<string, Placed[]>();
  const acceptedOn = (channel: string) => accepted.get(channel)?.length ?? 0;
  const engine = options.cluster ? await redisCluster() : await singleRedis();
  const replicaEnv = { ...engine.env, HEARTBEAT_INTERVAL_MS };
  const started = await Promise.allSettled(
    Array.from({ length: options.replicas }, () => startApp(replicaEnv, REPLICA_READY_TIMEOUT_MS)),
  );
  const replicas: (TestApp | undefined)[] = started.flatMap((result) =>
    result.status === 'fulfilled' ? [result.value] : [],
  );
  const live = () => replicas.filter((replica): replica is TestApp => replica !== undefined);
  const failure = started.find((result) => result.status === 'rejected');
  if (failure) {
    await Promise.all(live().map((replica) => replica.kill()));
    await engine.stop();
    throw failure.reason;
  }
  const pick = () => {
    const all = live();
    return all[Math.floor(Math.random() * all.length)];
  };
  const clients = Array.from(
    { length: options.clients },
    (_, i) => new ChaosClient(`chaos-${i}-${randomUUID().slice(0, 8)}`, () => pick().wsUrl),
  );
  const faults: string[] = [];
  const startedAt = Date.now();
  const sinceStart = () => Date.now() - startedAt;
  const note = (fault: string) => {
    faults.push(`${(sinceStart() / 1000).toFixed(2)} s: ${fault}`);
    log(fault);
  };
  let publishRetries = 0;
  let publishing = true;
  const timers: NodeJS.Timeout[] = [];

  try {
    clients.forEach((client) => client.connect());
    await waitUntil(
      () => clients.every((client) => client.settled),
      20_000,
      'every client to know its positions',
    );

    /** Publishes `body` under one Idempotency-Key, on any live replica, until one answers 202. */
    const publishUntilAccepted = async (body: Record<string, unknown>) => {
      const key = randomUUID();
      for (;;) {
        const response = await publish(pick(), body, { headers: { 'Idempotency-Key': key } }).catch(
          () => undefined,
        );
        if (response?.status === 202 && response.body.id) {
          for (const { channel, offset, epoch } of response.body.deliveries ?? []) {
            const list = accepted.get(channel) ?? [];
            list.push({ id: response.body.id, offset, epoch, at: sinceStart() });
            accepted.set(channel, list);
          }
          return;
        }
        publishRetries += 1;
        await sleep(50);
      }
    };
    const publisher = async () => {
      for (let n = 0; publishing; n++) {
        const user = clients[Math.floor(Math.random() * clients.length)].userId;
        await publishUntilAccepted(
          n % 5 === 0
            ? { topics: [TOPIC], type: 'chaos', payload: { n } }
            : { users: [user], type: 'chaos', payload: { n } },
        );
      }
    };
    const extraPublishes: Promise<void>[] = [];
    const publishToTopic = async (count: number, withinMs: number) => {
      let acceptedInTime = 0;
      const runs = Array.from({ length: count }, async (_, i) => {
        await publishUntilAccepted({ topics: [TOPIC], type: 'chaos', payload: { extra: i } });
        acceptedInTime += 1;
      });
      extraPublishes.push(...runs);
      // A bound, not a synchronisation: what is still retrying after it is awaited with the publishers.
      await Promise.race([Promise.all(runs), sleep(withinMs)]);
      return acceptedInTime;
    };
    const publishers = [publisher(), publisher()];

    const ms = options.seconds * 1000;
    timers.push(
      setInterval(() => clients[Math.floor(Math.random() * clients.length)].drop(), options.dropEveryMs),
    );
    const events = (async () => {
      await sleep(ms * 0.25);
      const victim = 0;
      const killed = replicas[victim] as TestApp;
      replicas[victim] = undefined;
      const killedAt = Date.now();
      await killed.kill();
      await sleep(ms * 0.15);
      replicas[victim] = await startApp(
        { ...replicaEnv, PORT: String(killed.port) },
        REPLICA_READY_TIMEOUT_MS,
      );
      note(`kill of replica on port ${killed.port}, back after ${Date.now() - killedAt} ms`);
      await sleep(ms * 0.15);
      await engine.faults(ms * 0.1, note, publishToTopic);
    })();
    await sleep(ms);
    await events;
    publishing = false;
    await Promise.all([...publishers, ...extraPublishes]);
    timers.forEach((timer) => clearInterval(timer));

    const check = (client: ChaosClient, channel: string) =>
      checkChannel(accepted.get(channel) ?? [], client.steps.get(channel) ?? []);
    const caughtUp = () =>
      clients.every((client) => client.channels.every((channel) => check(client, channel).lost === 0));
    await waitUntil(caughtUp, 20_000, 'every client to catch up', 250).catch((error: Error) =>
      log(error.message),
    );

    const report: ChaosReport = {
      accepted: new Set([...accepted.values()].flatMap((list) => list.map(({ id }) => id))).size,
      delivered: 0,
      expected: 0,
      lost: 0,
      excused: 0,
      epochsEnded: [...accepted.values()].reduce(
        (sum, list) => sum + new Set(list.map(({ epoch }) => epoch)).size - 1,
        0,
      ),
      duplicates: 0,
      outOfOrder: 0,
      unacknowledged: 0,
      unrecovered: clients.reduce((sum, client) => sum + client.unrecovered, 0),
      reconnects: clients.reduce((sum, client) => sum + client.reconnects, 0),
      subscribeRetries: clients.reduce((sum, client) => sum + client.subscribeRetries, 0),
      publishRetries,
      faults,
      lostDetails: [],
    };
    for (const client of clients) {
      for (const channel of client.channels) {
        const result = check(client, channel);
        report.expected += acceptedOn(channel);
        report.delivered += result.delivered;
        report.lost += result.lost;
        report.excused += result.excused;
        report.duplicates += result.duplicates;
        report.outOfOrder += result.outOfOrder;
        report.unacknowledged += result.unacknowledged;
        for (const placed of result.missed.slice(0, 20 - report.lostDetails.length))
          report.lostDetails.push(describeLoss(client, channel, placed));
      }
    }
    if (report.lost > 0 || report.duplicates > 0 || report.outOfOrder > 0) {
      const dir = mkdtempSync(join(tmpdir(), 'herald-chaos-'));
      for (const replica of live()) {
        const metrics = await httpRequest('GET', `${replica.url}/metrics`).catch(() => undefined);
        const shards = (metrics?.text ?? '')
          .split('\n')
          .filter((line) => line.startsWith('herald_redis_shard'));
        writeFileSync(join(dir, `replica-${replica.port}.log`), [replica.output(), ...shards].join('\n'));
      }
      log(`replica logs and shard metrics: ${dir}`);
    }
    return report;
  } finally {
    publishing = false;
    timers.forEach((timer) => clearInterval(timer));
    clients.forEach((client) => client.stop());
    await Promise.all(live().map((replica) => replica.kill()));
    await engine.stop();
  }
}

/** One lost delivery, with the client's steps in that epoch around its offset. */
function describeLoss(client: ChaosClient, channel: string, placed: Placed): string {
  const steps = client.steps.get(channel) ?? [];
  const near = steps
    .filter(
      (step, i) =>
        (step.epoch === placed.epoch && Math.abs(step.offset - placed.offset) <= 3) ||
        step.epoch !== steps[i - 1]?.epoch,
    )
    .map(
      (step) =>
        `${step.id ? '' : step.unrecovered ? 'unrecovered@' : 'position@'}${step.epoch}/${step.offset}`,
    );
  return (
    `${channel} ${placed.epoch}/${placed.offset} id ${placed.id} accepted at ${((placed.at ?? 0) / 1000).toFixed(2)} s; ` +
    `client ${client.userId} (last on ${client.url}) steps near it: ${near.slice(-12).join(' ')}`
  );
}

export function formatReport(report: ChaosReport): string {
  const rate = report.expected === 0 ? 100 : (100 * report.delivered) / report.expected;
  return [
    ...report.faults.map((fault) => `fault:                        ${fault}`),
    `accepted (202) notifications: ${report.accepted}`,
    `expected deliveries:          ${report.expected}`,
    `delivered:                    ${report.delivered} (${rate.toFixed(2)}%)`,
    `lost:                         ${report.lost}`,
    `missed, told:                 ${report.excused}`,
    `channel epochs ended:         ${report.epochsEnded}`,
    `duplicates:                   ${report.duplicates}`,
    `out of order:                 ${report.outOfOrder}`,
    `delivered without a 202:      ${report.unacknowledged}`,
    `recovered: false answers:     ${report.unrecovered}`,
    `client reconnects:            ${report.reconnects}`,
    `subscribe retries (internal): ${report.subscribeRetries}`,
    `publish retries (503/down):   ${report.publishRetries}`,
    ...report.lostDetails.map((detail) => `lost: ${detail}`),
  ].join('\n');
}
