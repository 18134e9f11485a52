import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { startApp, TestApp } from '../support/app';
import { aToken, publish } from '../support/client';
import { startRedis, TestRedis } from '../support/redis';
import { sleep, waitUntil } from '../support/wait';

export interface ChaosOptions {
  seconds: number;
  clients: number;
  replicas: number;
  /** ms between random client drops */
  dropEveryMs: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  accepted: number;
  /** Accepted notifications that reached the clients that should have them, counted once per client. */
  delivered: number;
  expected: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  /** Delivered but never answered 202 (a publish stored before its response was lost). */
  unacknowledged: number;
  unrecovered: number;
  reconnects: number;
  publishRetries: number;
}

const TOPIC = 'chaos';

interface Position {
  offset: number;
  epoch: string;
}

/**
 * A minimal client that keeps the promise's side of the bargain: on every reconnect it recovers its
 * personal channel (query) and the topic (subscribe with offset/epoch) from the last offsets it saw.
 */
class ChaosClient {
  readonly received = new Map<string, number[]>();
  unrecovered = 0;
  reconnects = 0;
  private readonly positions = new Map<string, Position>();
  /** Channels with a plain subscribe in flight (learning a position, not recovering). */
  private readonly learning = new Set<string>();
  private socket: WebSocket | undefined;
  private stopped = false;

  constructor(
    readonly userId: string,
    private readonly pickUrl: () => string,
  ) {}

  get personal(): string {
    return `user:${this.userId}`;
  }

  connect(): void {
    if (this.stopped) return;
    const query = new URLSearchParams({ access_token: aToken({ sub: this.userId, topics: [TOPIC] }) });
    const personal = this.positions.get(this.personal);
    if (personal) {
      query.set('offset', String(personal.offset));
      query.set('epoch', personal.epoch);
    }
    const socket = new WebSocket(`${this.pickUrl()}?${query.toString()}`);
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
    return this.positions.has(this.personal) && this.positions.has(`topic:${TOPIC}`);
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
      for (const channel of [
        `topic:${TOPIC}`,
        ...(this.positions.has(this.personal) ? [] : [this.personal]),
      ]) {
        const position = this.positions.get(channel);
        if (!position) this.learning.add(channel);
        socket.send(JSON.stringify({ event: 'subscribe', data: { channel, ...(position ?? {}) } }));
      }
    } else if (frame.event === 'subscribed') {
      const { channel, offset, epoch, recovered } = frame.data as {
        channel: string;
        offset: number;
        epoch: string;
        recovered: boolean;
      };
      if (this.learning.delete(channel)) {
        if (!this.positions.has(channel)) this.positions.set(channel, { offset, epoch });
      } else if (!recovered) {
        this.unrecovered += 1;
        this.positions.set(channel, { offset, epoch });
      }
    } else if (frame.event === 'notification') {
      const { channel, offset, epoch } = frame.data as { channel: string; offset: number; epoch: string };
      const list = this.received.get(channel) ?? [];
      list.push(offset);
      this.received.set(channel, list);
      this.positions.set(channel, { offset, epoch });
    }
  }
}

/**
 * N clients on R replicas, a steady publisher (idempotent retries on another replica after a
 * failure), random client drops, one replica killed and restarted, one Redis restart. At the end
 * every client's sequence per channel is compared with what was accepted (202).
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const redis: TestRedis = await startRedis({ appendonly: true, shared: false });
  const started = await Promise.allSettled(
    Array.from({ length: options.replicas }, () =>
      startApp({ REDIS_URL: redis.url, HEARTBEAT_INTERVAL_MS: '2000' }),
    ),
  );
  const replicas: (TestApp | undefined)[] = started.flatMap((result) =>
    result.status === 'fulfilled' ? [result.value] : [],
  );
  const live = () => replicas.filter((replica): replica is TestApp => replica !== undefined);
  if (replicas.length < options.replicas) {
    await Promise.all(live().map((replica) => replica.kill()));
    await redis.stop();
    throw new Error('a replica failed to start');
  }
  const pick = () => {
    const all = live();
    return all[Math.floor(Math.random() * all.length)];
  };
  const clients = Array.from(
    { length: options.clients },
    (_, i) => new ChaosClient(`chaos-${i}-${randomUUID().slice(0, 8)}`, () => pick().wsUrl),
  );
  const accepted = new Map<string, Set<number>>();
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

    const publisher = async () => {
      for (let n = 0; publishing; n++) {
        const toTopic = n % 5 === 0;
        const user = clients[Math.floor(Math.random() * clients.length)].userId;
        const body = toTopic
          ? { topics: [TOPIC], type: 'chaos', payload: { n } }
          : { users: [user], type: 'chaos', payload: { n } };
        const key = randomUUID();
        for (;;) {
          const replica = pick();
          const response = await publish(replica, body, { headers: { 'Idempotency-Key': key } }).catch(
            () => undefined,
          );
          if (response?.status === 202) {
            for (const delivery of response.body.deliveries ?? []) {
              const set = accepted.get(delivery.channel) ?? new Set<number>();
              set.add(delivery.offset);
              accepted.set(delivery.channel, set);
            }
            break;
          }
          publishRetries += 1;
          await sleep(50);
        }
      }
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
      log(`killing replica on port ${killed.port}`);
      replicas[victim] = undefined;
      await killed.kill();
      await sleep(ms * 0.15);
      replicas[victim] = await startApp({
        REDIS_URL: redis.url,
        PORT: String(killed.port),
        HEARTBEAT_INTERVAL_MS: '2000',
      });
      log(`replica on port ${killed.port} restarted`);
      await sleep(ms * 0.15);
      log('restarting Redis');
      await redis.shutdown();
      await sleep(300);
      await redis.restart();
      log('Redis is back');
    })();
    await sleep(ms);
    await events;
    publishing = false;
    await Promise.all(publishers);
    timers.forEach((timer) => clearInterval(timer));

    const expectedFor = (client: ChaosClient) => [client.personal, `topic:${TOPIC}`];
    const settled = () =>
      clients.every((client) =>
        expectedFor(client).every((channel) => {
          const want = accepted.get(channel);
          const got = client.received.get(channel) ?? [];
          return !want || got.at(-1) === Math.max(...want);
        }),
      );
    await waitUntil(settled, 20_000, 'every client to catch up').catch((error: Error) => log(error.message));

    const report: ChaosReport = {
      accepted: [...accepted.values()].reduce((sum, set) => sum + set.size, 0),
      delivered: 0,
      expected: 0,
      lost: 0,
      duplicates: 0,
      outOfOrder: 0,
      unacknowledged: 0,
      unrecovered: clients.reduce((sum, client) => sum + client.unrecovered, 0),
      reconnects: clients.reduce((sum, client) => sum + client.reconnects, 0),
      publishRetries,
    };
    for (const client of clients) {
      for (const channel of expectedFor(client)) {
        const want = accepted.get(channel) ?? new Set<number>();
        const got = client.received.get(channel) ?? [];
        const unique = new Set(got);
        report.expected += want.size;
        report.delivered += [...want].filter((offset) => unique.has(offset)).length;
        report.lost += [...want].filter((offset) => !unique.has(offset)).length;
        report.duplicates += got.length - unique.size;
        report.outOfOrder += got.filter((offset, i) => i > 0 && offset <= got[i - 1]).length;
        report.unacknowledged += [...unique].filter((offset) => !want.has(offset)).length;
      }
    }
    return report;
  } finally {
    publishing = false;
    timers.forEach((timer) => clearInterval(timer));
    clients.forEach((client) => client.stop());
    await Promise.all(live().map((replica) => replica.kill()));
    await redis.stop();
  }
}

export function formatReport(report: ChaosReport): string {
  const rate = report.expected === 0 ? 100 : (100 * report.delivered) / report.expected;
  return [
    `accepted (202) notifications: ${report.accepted}`,
    `expected deliveries:          ${report.expected}`,
    `delivered:                    ${report.delivered} (${rate.toFixed(2)}%)`,
    `lost:                         ${report.lost}`,
    `duplicates:                   ${report.duplicates}`,
    `out of order:                 ${report.outOfOrder}`,
    `delivered without a 202:      ${report.unacknowledged}`,
    `recovered: false answers:     ${report.unrecovered}`,
    `client reconnects:            ${report.reconnects}`,
    `publish retries (503/down):   ${report.publishRetries}`,
  ].join('\n');
}
