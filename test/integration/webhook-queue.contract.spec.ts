import { randomUUID } from 'node:crypto';
import { MemoryWebhookQueue } from '../../src/webhooks/memory-webhook.queue';
import { RedisWebhookQueue } from '../../src/webhooks/redis/redis-webhook.queue';
import { bucketOf, WEBHOOK_BUCKETS, WebhookQueue } from '../../src/webhooks/webhook-queue';
import { engineTwins } from '../support/engines';

/**
 * One contract, both engines: what the WebhookQueue doc comment promises (claims oldest due first,
 * exclusive under concurrency, leased; a lapsed lease makes the event due again as its next attempt;
 * settling only the latest attempt) holds for the memory engine and for Redis. Times are synthetic
 * Unix ms passed in, so leases and retries need no waiting.
 */
const T0 = 1_800_000_000_000;
const LEASE_MS = 10_000;

/** An event id that lands in `bucket`. */
function anIdIn(bucket: number): string {
  for (;;) {
    const id = randomUUID();
    if (bucketOf(id) === bucket) return id;
  }
}
const aBody = (id: string) => JSON.stringify({ id, type: 'notification.delivered', data: { userId: 'u' } });

describe.each(
  engineTwins<WebhookQueue>({
    memory: () => new MemoryWebhookQueue(),
    redis: async (server) => new RedisWebhookQueue(await server.client()),
  }),
)(`${WebhookQueue.name} contract`, (engine) => {
  let sut: WebhookQueue;
  let other: WebhookQueue;

  beforeAll(async () => {
    sut = await engine.create();
    // Redis: another replica's queue, on a connection of its own; memory has one replica only.
    other = engine.name === 'redis' ? await engine.create() : sut;
  });
  afterAll(() => engine.teardown());

  // Every case starts with empty buckets: whatever a case left is claimed (far in the future) and removed.
  afterEach(async () => {
    for (let bucket = 0; bucket < WEBHOOK_BUCKETS; bucket++) {
      const { claimed } = await sut.claim(bucket, Number.MAX_SAFE_INTEGER - LEASE_MS, LEASE_MS, 10_000);
      await Promise.all(claimed.map((event) => sut.complete(event.id, event.attempt)));
    }
  });

  describe(engine.name, () => {
    it('hands an enqueued event to a claim of its bucket once it is due, as attempt 1 with its body', async () => {
      const id = anIdIn(3);
      await sut.enqueue(id, aBody(id), T0);
      await expect(sut.claim(3, T0 - 1, LEASE_MS, 10)).resolves.toEqual({ claimed: [], pending: 1 });
      await expect(sut.claim((3 + 1) % WEBHOOK_BUCKETS, T0, LEASE_MS, 10)).resolves.toEqual({
        claimed: [],
        pending: 0,
      });
      await expect(sut.claim(3, T0, LEASE_MS, 10)).resolves.toEqual({
        claimed: [{ id, body: aBody(id), attempt: 1 }],
        pending: 1,
      });
    });

    it('claims at most `limit` events, oldest due first', async () => {
      const ids = [anIdIn(5), anIdIn(5), anIdIn(5)];
      await sut.enqueue(ids[0], aBody(ids[0]), T0 + 30);
      await sut.enqueue(ids[1], aBody(ids[1]), T0 + 10);
      await sut.enqueue(ids[2], aBody(ids[2]), T0 + 20);
      const first = await sut.claim(5, T0 + 100, LEASE_MS, 2);
      expect(first.claimed.map((event) => event.id)).toEqual([ids[1], ids[2]]);
      expect(first.pending).toBe(3);
      const second = await sut.claim(5, T0 + 100, LEASE_MS, 2);
      expect(second.claimed.map((event) => event.id)).toEqual([ids[0]]);
    });

    it('gives each event to exactly one of many concurrent claimers', async () => {
      const ids = Array.from({ length: 30 }, () => anIdIn(7));
      await Promise.all(ids.map((id) => sut.enqueue(id, aBody(id), T0)));
      const claims = await Promise.all(
        Array.from({ length: 12 }, (_, n) => (n % 2 ? other : sut).claim(7, T0, LEASE_MS, 4)),
      );
      const claimed = claims.flatMap((claim) => claim.claimed.map((event) => event.id));
      expect(claimed.sort()).toEqual([...ids].sort());
    });

    it('does not hand a leased event out again before the lease ends', async () => {
      const id = anIdIn(1);
      await sut.enqueue(id, aBody(id), T0);
      await sut.claim(1, T0, LEASE_MS, 10);
      await expect(other.claim(1, T0 + LEASE_MS - 1, LEASE_MS, 10)).resolves.toMatchObject({ claimed: [] });
    });

    it('hands an event whose claimer never settled it to the next claimer after the lease, as the next attempt', async () => {
      const id = anIdIn(2);
      await sut.enqueue(id, aBody(id), T0);
      await sut.claim(2, T0, LEASE_MS, 10);
      await expect(other.claim(2, T0 + LEASE_MS, LEASE_MS, 10)).resolves.toMatchObject({
        claimed: [{ id, body: aBody(id), attempt: 2 }],
      });
    });

    it('removes a completed event', async () => {
      const id = anIdIn(4);
      await sut.enqueue(id, aBody(id), T0);
      const [claimed] = (await sut.claim(4, T0, LEASE_MS, 10)).claimed;
      await expect(sut.complete(id, claimed.attempt)).resolves.toBe(true);
      await expect(sut.claim(4, T0 + 10 * LEASE_MS, LEASE_MS, 10)).resolves.toEqual({
        claimed: [],
        pending: 0,
      });
      await expect(sut.complete(id, claimed.attempt)).resolves.toBe(false);
    });

    it('makes a retried event due again at the given time, keeping its body, as the next attempt', async () => {
      const id = anIdIn(6);
      await sut.enqueue(id, aBody(id), T0);
      await sut.claim(6, T0, LEASE_MS, 10);
      await expect(sut.retry(id, 1, T0 + 500)).resolves.toBe(true);
      await expect(sut.claim(6, T0 + 499, LEASE_MS, 10)).resolves.toMatchObject({ claimed: [] });
      await expect(sut.claim(6, T0 + 500, LEASE_MS, 10)).resolves.toEqual({
        claimed: [{ id, body: aBody(id), attempt: 2 }],
        pending: 1,
      });
    });

    it('ignores the settling of an attempt that is no longer the latest (its lease ran out)', async () => {
      const id = anIdIn(8);
      await sut.enqueue(id, aBody(id), T0);
      await sut.claim(8, T0, LEASE_MS, 10);
      await other.claim(8, T0 + LEASE_MS, LEASE_MS, 10);
      await expect(sut.retry(id, 1, T0 + 20 * LEASE_MS)).resolves.toBe(false);
      await expect(sut.complete(id, 1)).resolves.toBe(false);
      // Still claimed by attempt 2 (not postponed, not removed): due again at that lease's end.
      await expect(sut.claim(8, T0 + 2 * LEASE_MS, LEASE_MS, 10)).resolves.toMatchObject({
        claimed: [{ id, attempt: 3 }],
      });
    });

    it('counts the pending events of a bucket, claimed ones included', async () => {
      const ids = [anIdIn(9), anIdIn(9), anIdIn(9)];
      await Promise.all(ids.map((id) => sut.enqueue(id, aBody(id), T0)));
      await sut.claim(9, T0, LEASE_MS, 1);
      await expect(sut.claim(9, T0, LEASE_MS, 1)).resolves.toMatchObject({ pending: 3 });
    });

    it('spreads events over every bucket', () => {
      const counts = new Array<number>(WEBHOOK_BUCKETS).fill(0);
      for (let n = 0; n < 1600; n++) counts[bucketOf(randomUUID())] += 1;
      expect(Math.min(...counts)).toBeGreaterThan(50);
    });
  });
});
