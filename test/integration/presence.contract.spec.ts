import { MemoryPresenceRegistry } from '../../src/presence/memory-presence.registry';
import { PresenceEntry, PresenceRegistry } from '../../src/presence/presence.registry';
import { RedisPresenceRegistry } from '../../src/presence/redis-presence.registry';
import { engineTwins } from '../support/engines';
import { sleep, waitUntil } from '../support/wait';

/**
 * One contract, both engines: what the PresenceRegistry doc comment promises (an atomic cap, expiry
 * pushed forward by refresh, removal, counts per user) holds for the memory engine and for Redis.
 */
const TTL_MS = 60_000;
/** Long enough for a few round trips on a loaded machine, short enough to wait out. */
const SHORT_TTL_MS = 400;

let counter = 0;
const aUser = () => `contract-user-${process.pid}-${Date.now().toString(36)}-${++counter}`;
const anEntry = (userId: string, connectionId = `conn-${++counter}`): PresenceEntry => ({
  userId,
  connectionId,
});

describe.each(
  engineTwins<PresenceRegistry>({
    memory: () => new MemoryPresenceRegistry(),
    redis: async (server) => new RedisPresenceRegistry(await server.client()),
  }),
)(`${PresenceRegistry.name} contract`, (engine) => {
  let sut: PresenceRegistry;

  beforeAll(async () => {
    sut = await engine.create();
  });
  afterAll(() => engine.teardown());

  describe(engine.name, () => {
    it('admits connections up to the cap and refuses the next', async () => {
      const user = aUser();
      await expect(sut.admit(anEntry(user), 2, TTL_MS)).resolves.toBe(true);
      await expect(sut.admit(anEntry(user), 2, TTL_MS)).resolves.toBe(true);
      await expect(sut.admit(anEntry(user), 2, TTL_MS)).resolves.toBe(false);
      await expect(sut.count(user)).resolves.toBe(2);
    });

    it('never overshoots the cap under concurrent admits', async () => {
      const user = aUser();
      const admitted = await Promise.all(
        Array.from({ length: 30 }, () => sut.admit(anEntry(user), 5, TTL_MS)),
      );
      expect(admitted.filter(Boolean)).toHaveLength(5);
      await expect(sut.count(user)).resolves.toBe(5);
    });

    it('counts each user on their own, and nobody who never connected', async () => {
      const [alice, bob] = [aUser(), aUser()];
      await sut.admit(anEntry(alice), 1, TTL_MS);
      await expect(sut.admit(anEntry(bob), 1, TTL_MS)).resolves.toBe(true);
      await sut.admit(anEntry(bob, 'bob-2'), 3, TTL_MS);
      await expect(sut.count(alice)).resolves.toBe(1);
      await expect(sut.count(bob)).resolves.toBe(2);
      await expect(sut.count(aUser())).resolves.toBe(0);
    });

    it('removes one connection and frees its place under the cap', async () => {
      const user = aUser();
      const [first, second] = [anEntry(user), anEntry(user)];
      await sut.admit(first, 2, TTL_MS);
      await sut.admit(second, 2, TTL_MS);
      await sut.remove(first);
      await expect(sut.count(user)).resolves.toBe(1);
      await expect(sut.admit(anEntry(user), 2, TTL_MS)).resolves.toBe(true);
      await sut.remove(anEntry(user, 'never-admitted'));
      await expect(sut.count(user)).resolves.toBe(2);
    });

    it('stops counting an entry whose expiry passes, and frees its place', async () => {
      const user = aUser();
      await sut.admit(anEntry(user), 1, SHORT_TTL_MS);
      await expect(sut.count(user)).resolves.toBe(1);
      await expect(sut.admit(anEntry(user), 1, TTL_MS)).resolves.toBe(false);
      // A real-time effect: the entry's expiry must pass.
      await waitUntil(async () => (await sut.count(user)) === 0, 3000, 'the entry to expire');
      await expect(sut.admit(anEntry(user), 1, TTL_MS)).resolves.toBe(true);
    });

    it('keeps a refreshed entry counted past its first expiry', async () => {
      const user = aUser();
      const [refreshed, lapsed] = [anEntry(user), anEntry(user)];
      await sut.admit(refreshed, 5, SHORT_TTL_MS);
      await sut.admit(lapsed, 5, SHORT_TTL_MS);
      await sut.refresh([refreshed], TTL_MS);
      await waitUntil(async () => (await sut.count(user)) === 1, 3000, 'the unrefreshed entry to expire');
      // A real-time effect: well past the first expiry, the refreshed entry still counts.
      await sleep(SHORT_TTL_MS);
      await expect(sut.count(user)).resolves.toBe(1);
    });

    it('refreshes many users’ connections at once, and counts a refreshed entry it no longer had', async () => {
      const [alice, bob] = [aUser(), aUser()];
      const entries = [anEntry(alice), anEntry(alice), anEntry(bob)];
      for (const entry of entries) await sut.admit(entry, 5, SHORT_TTL_MS);
      await sut.remove(entries[2]);
      // The heartbeat refreshes every live connection of its replica, including one the engine lost
      // (a Redis restarted without its data): it counts again.
      await sut.refresh(entries, TTL_MS);
      await expect(sut.count(alice)).resolves.toBe(2);
      await expect(sut.count(bob)).resolves.toBe(1);
    });
  });
});
