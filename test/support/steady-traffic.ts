import { TestApp } from './app';
import { aToken, connect, NotificationData, post, publishMarker, TestClient } from './client';
import { sleep, waitUntil } from './wait';

/** How long one notification may keep being retried (503 during a fault) before the test fails. */
const RETRY_DEADLINE_MS = 30_000;

/**
 * A steady publisher per user and a client of every user on every replica, for fault tests: each
 * user's notifications n = 1, 2, 3, … are published one after the other, each under its own
 * Idempotency-Key and retried (on the next replica) until it is accepted — as a production publisher
 * would — so that every accepted notification must reach every client exactly once, in order.
 */
export class SteadyTraffic {
  /** Per user, the highest n accepted (1..accepted were all accepted, in order). */
  readonly accepted = new Map<string, number>();
  /** Publish answers other than 202, 503 and 409 (and network errors) — never expected. */
  readonly unexpected: string[] = [];
  /** 503 answers seen (faults make some). */
  unavailable = 0;
  private running = true;
  private loops: Promise<void>[] = [];

  private constructor(
    private readonly replicas: TestApp[],
    readonly users: string[],
    readonly clients: Map<string, TestClient[]>,
  ) {}

  /** Connects every user on every replica, then starts publishing. */
  static async start(replicas: TestApp[], users: string[], intervalMs = 10): Promise<SteadyTraffic> {
    const clients = new Map<string, TestClient[]>();
    for (const user of users) {
      clients.set(
        user,
        await Promise.all(replicas.map((replica) => connect(replica, aToken({ sub: user })))),
      );
    }
    const traffic = new SteadyTraffic(replicas, users, clients);
    traffic.loops = users.map((user, index) => traffic.publishLoop(user, index, intervalMs));
    return traffic;
  }

  /** Resolves once every user has at least `count` more accepted notifications than now. */
  async advance(count: number, timeoutMs = 30_000): Promise<void> {
    const targets = new Map(this.users.map((user) => [user, (this.accepted.get(user) ?? 0) + count]));
    await waitUntil(
      () => this.users.every((user) => (this.accepted.get(user) ?? 0) >= (targets.get(user) ?? 0)),
      timeoutMs,
      `${count} more accepted notifications per user`,
    );
  }

  /** Stops publishing (each loop finishes its current notification, retries included). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /**
   * After stop(): a marker per user, then what each client received before it — every accepted
   * notification once, in order, unless the channel started a new epoch (a failover lost
   * acknowledged writes: the contract allows the loss then, never a duplicate or a reorder). With
   * `lossless`, a new epoch is a problem too: every accepted notification must arrive.
   * Returns the problems found (empty when all is well).
   */
  async check({ lossless = false }: { lossless?: boolean } = {}): Promise<string[]> {
    const problems = [...this.unexpected, ...(await this.stalls())];
    for (const user of this.users) {
      const marker = await this.markerFor(user);
      const expected = this.accepted.get(user) ?? 0;
      for (const [index, client] of (this.clients.get(user) ?? []).entries()) {
        const where = `user ${user} on replica ${index}`;
        if (client.closeEvent) problems.push(`${where}: socket closed (${client.closeEvent.code})`);
        const received = await client.notificationsBefore(marker, `user:${user}`, 30_000);
        problems.push(...sequenceProblems(where, received, expected, lossless));
      }
    }
    return problems;
  }

  /**
   * Before anything else is published: every client gets to its user's last accepted notification by
   * itself (a gap on a channel that then went quiet is filled from history, not left until the next
   * publish reveals it). The clients that did not within the deadline.
   */
  async stalls(timeoutMs = 15_000): Promise<string[]> {
    const behind = () =>
      this.users.flatMap((user) =>
        (this.clients.get(user) ?? []).flatMap((client, index) => {
          const received = client.notifications(`user:${user}`);
          const last = received[received.length - 1];
          const reached =
            last !== undefined && (last.payload as { n: number }).n >= (this.accepted.get(user) ?? 0);
          return reached
            ? []
            : [
                `user ${user} on replica ${index}: stalled at ${received.length} of ${this.accepted.get(user) ?? 0}`,
              ];
        }),
      );
    try {
      await waitUntil(
        () => behind().length === 0,
        timeoutMs,
        'every client at its last accepted notification',
      );
      return [];
    } catch {
      return behind();
    }
  }

  async close(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    await Promise.all([...this.clients.values()].flat().map((client) => client.close()));
  }

  private async publishLoop(user: string, index: number, intervalMs: number): Promise<void> {
    let attempt = index;
    for (let n = 1; this.running; n++) {
      const deadline = Date.now() + RETRY_DEADLINE_MS;
      for (;;) {
        const replica = this.replicas[attempt++ % this.replicas.length];
        const outcome = await post(
          replica,
          '/v1/notifications',
          { users: [user], type: 'test.steady', payload: { n } },
          { headers: { 'idempotency-key': `steady-${user}-${n}` } },
        ).then(
          (response) => response.status,
          (error: Error) => error.message,
        );
        if (outcome === 202) break;
        if (outcome === 503) this.unavailable += 1;
        // 409: an attempt under this key is still claimed (its release failed with the fault);
        // retried, as the publisher SDK does.
        else if (outcome !== 409) this.unexpected.push(`publish of ${user} #${n}: ${outcome}`);
        if (Date.now() > deadline) {
          this.unexpected.push(`publish of ${user} #${n} not accepted within ${RETRY_DEADLINE_MS} ms`);
          return;
        }
        await sleep(50);
      }
      this.accepted.set(user, n);
      await sleep(intervalMs);
    }
  }

  private async markerFor(user: string): Promise<string> {
    const deadline = Date.now() + RETRY_DEADLINE_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        return await publishMarker(this.replicas[attempt % this.replicas.length], { users: [user] });
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(100);
      }
    }
  }
}

/** What is wrong with a client's sequence of n values, against 1..expected (a new epoch excuses a loss unless `lossless`). */
function sequenceProblems(
  where: string,
  received: NotificationData[],
  expected: number,
  lossless: boolean,
): string[] {
  const values = received.map((notification) => (notification.payload as { n: number }).n);
  const epochs = new Set(received.map((notification) => notification.epoch));
  const problems: string[] = [];
  for (let i = 1; i < values.length; i++) {
    if (values[i] <= values[i - 1])
      problems.push(`${where}: ${values[i]} after ${values[i - 1]} (duplicate or out of order)`);
  }
  if (epochs.size > 1) {
    if (!lossless) return problems;
    problems.push(`${where}: ${epochs.size - 1} new epoch(s): acknowledged notifications were lost`);
  }
  const missing = [];
  for (let n = 1, i = 0; n <= expected; n++) {
    if (values[i] === n) i++;
    else missing.push(n);
  }
  if (missing.length > 0)
    problems.push(
      `${where}: ${missing.length} accepted notifications missing${epochs.size > 1 ? '' : ' in one epoch'}: ${missing.slice(0, 10).join(',')}`,
    );
  if (values.length > 0 && values[values.length - 1] > expected)
    problems.push(`${where}: received ${values[values.length - 1]} beyond the ${expected} accepted`);
  return problems;
}
