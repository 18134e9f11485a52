import { randomUUID } from 'node:crypto';
import { MemoryPushLedger } from '../../src/push/memory-push-ledger';
import { ClaimedPush, PushContent, PushLedger } from '../../src/push/push-ledger';
import { RedisPushLedger } from '../../src/push/redis-push-ledger';
import { engineTwins } from '../support/engines';
import { waitUntil } from '../support/wait';

/**
 * One contract, both engines: what the PushLedger doc comment promises (durable due pushes claimed by
 * one caller under a lease, an ack that wins, idempotent records, expiry after the TTL).
 */
const TTL = 3600;
const LEASE = 60_000;

let counter = 0;
const aUser = () => `ledger-user-${process.pid}-${++counter}`;
const aContent = (overrides: Partial<PushContent> = {}): PushContent => ({
  id: randomUUID(),
  type: 'order.shipped',
  payload: { orderId: 42 },
  createdAt: new Date().toISOString(),
  title: 'Shipped',
  body: null,
  url: null,
  icon: null,
  urgency: 'normal',
  ...overrides,
});

describe.each(
  engineTwins<PushLedger>({
    memory: () => new MemoryPushLedger(),
    redis: async (server) => new RedisPushLedger(await server.client()),
  }),
)(`${PushLedger.name} contract`, (engine) => {
  let sut: PushLedger;
  /** Claims from every bucket, as a replica's poll does. */
  const claimAll = async (now: number, leaseMs = LEASE, into: ClaimedPush[] = []) => {
    for (let bucket = 0; bucket < sut.buckets; bucket++)
      into.push(...(await sut.claim(bucket, now, leaseMs, 100)));
    return into;
  };
  /** This test's pushes only (the queue is shared by the suite). */
  const mine = (claimed: ClaimedPush[], id: string) => claimed.filter((push) => push.notificationId === id);

  beforeAll(async () => {
    sut = await engine.create();
  });
  afterAll(() => engine.teardown());

  describe(engine.name, () => {
    it('records content and a pending record per user, and reports every user in status', async () => {
      const content = aContent({ expiresAt: '2030-01-01T00:00:00.000Z', collapseKey: 'k' });
      const [alice, bob] = [aUser(), aUser()];
      await expect(sut.record(content, [alice, bob], 'pending', TTL)).resolves.toEqual([alice, bob]);
      await expect(sut.load(content.id, alice)).resolves.toEqual({ content, record: { state: 'pending' } });
      const status = await sut.status(content.id);
      expect(status?.sort((a, b) => a.userId.localeCompare(b.userId))).toEqual(
        [alice, bob].sort().map((userId) => ({ userId, record: { state: 'pending' } })),
      );
      await expect(sut.status(randomUUID())).resolves.toBeUndefined();
      await expect(sut.load(content.id, aUser())).resolves.toBeUndefined();
    });

    it('records no_subscriptions without pending users', async () => {
      const content = aContent();
      const user = aUser();
      await expect(sut.record(content, [user], 'no_subscriptions', TTL)).resolves.toEqual([]);
      await expect(sut.status(content.id)).resolves.toEqual([
        { userId: user, record: { state: 'no_subscriptions' } },
      ]);
    });

    it('leaves existing records as they are when a notification is recorded again', async () => {
      const content = aContent();
      const [alice, bob, carol] = [aUser(), aUser(), aUser()];
      await sut.record(content, [alice, bob], 'pending', TTL);
      await sut.update(content.id, bob, { state: 'pushed', pushedAt: 5, accepted: 1 });
      await expect(sut.record(content, [alice, bob, carol], 'pending', TTL)).resolves.toEqual([alice, carol]);
      await expect(sut.load(content.id, bob)).resolves.toMatchObject({
        record: { state: 'pushed', pushedAt: 5 },
      });
    });

    it('hands a due push to one claimer only, and not before it is due', async () => {
      const content = aContent();
      const user = aUser();
      await sut.record(content, [user], 'pending', TTL);
      const now = Date.now();
      await sut.schedule(content.id, [{ userId: user, dueAt: now + 1000 }]);
      expect(mine(await claimAll(now), content.id)).toEqual([]);
      const [first, second] = await Promise.all([claimAll(now + 1000), claimAll(now + 1000)]);
      const claims = [...mine(first, content.id), ...mine(second, content.id)];
      expect(claims).toEqual([{ notificationId: content.id, userId: user, lease: now + 1000 + LEASE }]);
      await expect(sut.isQueued(content.id, user)).resolves.toBe(true);
    });

    it('hands a push out again once its lease passed (its holder died)', async () => {
      const content = aContent();
      const user = aUser();
      await sut.record(content, [user], 'pending', TTL);
      const now = Date.now();
      await sut.schedule(content.id, [{ userId: user, dueAt: now }]);
      const [dead] = mine(await claimAll(now, 500), content.id);
      expect(mine(await claimAll(now + 499), content.id)).toEqual([]);
      const [next] = mine(await claimAll(now + 500), content.id);
      expect(next).toMatchObject({ userId: user, lease: now + 500 + LEASE });
      // The old holder no longer holds it: it can neither reschedule nor finish it.
      await expect(sut.reschedule(dead, now + 10)).resolves.toBe(false);
      await sut.finish(dead);
      await expect(sut.isQueued(content.id, user)).resolves.toBe(true);
      await sut.finish(next);
      await expect(sut.isQueued(content.id, user)).resolves.toBe(false);
    });

    it('keeps the due time of a push scheduled twice (a retried publish)', async () => {
      const content = aContent();
      const user = aUser();
      const now = Date.now();
      await sut.schedule(content.id, [{ userId: user, dueAt: now }]);
      await sut.schedule(content.id, [{ userId: user, dueAt: now + 100_000 }]);
      expect(mine(await claimAll(now), content.id)).toHaveLength(1);
    });

    it('reschedules a claimed push for a retry', async () => {
      const content = aContent();
      const user = aUser();
      const now = Date.now();
      await sut.schedule(content.id, [{ userId: user, dueAt: now }]);
      const [claimed] = mine(await claimAll(now), content.id);
      await expect(sut.reschedule(claimed, now + 2000)).resolves.toBe(true);
      expect(mine(await claimAll(now + 1999), content.id)).toEqual([]);
      expect(mine(await claimAll(now + 2000), content.id)).toHaveLength(1);
    });

    it('marks delivered on the first ack only, takes the push off the queue, and lets nothing overwrite it', async () => {
      const content = aContent();
      const [alice, bob] = [aUser(), aUser()];
      await sut.record(content, [alice, bob], 'pending', TTL);
      await sut.update(content.id, alice, { state: 'pushed', pushedAt: 7, accepted: 1 });
      await sut.schedule(content.id, [{ userId: alice, dueAt: Date.now() + 60_000 }]);
      await expect(sut.acknowledge(alice, [content.id, content.id, randomUUID()], 1234)).resolves.toEqual([
        content.id,
      ]);
      await expect(sut.acknowledge(alice, [content.id], 5678)).resolves.toEqual([]);
      await expect(sut.load(content.id, alice)).resolves.toMatchObject({
        record: { state: 'delivered', deliveredAt: 1234, pushedAt: 7 },
      });
      await expect(sut.isQueued(content.id, alice)).resolves.toBe(false);
      await expect(sut.update(content.id, alice, { state: 'push_failed' })).resolves.toBe(false);
      await expect(sut.load(content.id, bob)).resolves.toMatchObject({ record: { state: 'pending' } });
    });

    it('ignores acks of notifications the user was not a push target of', async () => {
      const content = aContent();
      await sut.record(content, [aUser()], 'pending', TTL);
      await expect(sut.acknowledge(aUser(), [content.id], 1)).resolves.toEqual([]);
      await expect(sut.update(content.id, aUser(), { state: 'pushed' })).resolves.toBe(false);
    });

    it('forgets a notification after its TTL', async () => {
      const content = aContent();
      const user = aUser();
      await sut.record(content, [user], 'pending', 1);
      await expect(sut.status(content.id)).resolves.toHaveLength(1);
      await waitUntil(
        async () => (await sut.status(content.id)) === undefined,
        5000,
        'the record to expire',
        100,
      );
      await expect(sut.status(content.id)).resolves.toBeUndefined();
      await expect(sut.load(content.id, user)).resolves.toBeUndefined();
    });
  });
});
