import { MemoryPushSubscriptionStore } from '../../src/push/memory-push-subscription.store';
import {
  MAX_SUBSCRIPTIONS_PER_USER,
  NewPushSubscription,
  PushSubscriptionStore,
  subscriptionIdOf,
} from '../../src/push/push-subscription.store';
import { RedisPushSubscriptionStore } from '../../src/push/redis-push-subscription.store';
import { engineTwins } from '../support/engines';

/**
 * One contract, both engines: what the PushSubscriptionStore doc comment promises (one owner per
 * endpoint, the per-user cap replacing the one pushed least recently, re-registration keeping the id).
 */
let counter = 0;
const aUser = () => `push-user-${process.pid}-${Date.now().toString(36)}-${++counter}`;
const aSubscription = (label = `${++counter}`): NewPushSubscription => ({
  endpoint: `https://push.example/send/${process.pid}-${label}-${++counter}`,
  keys: { p256dh: `p256dh-${label}`, auth: `auth-${label}` },
  expirationTime: null,
});

describe.each(
  engineTwins<PushSubscriptionStore>({
    memory: () => new MemoryPushSubscriptionStore(),
    redis: async (server) => new RedisPushSubscriptionStore(await server.client()),
  }),
)(`${PushSubscriptionStore.name} contract`, (engine) => {
  let sut: PushSubscriptionStore;

  beforeAll(async () => {
    sut = await engine.create();
  });
  afterAll(() => engine.teardown());

  describe(engine.name, () => {
    it('registers a subscription under the id of its endpoint, and lists it', async () => {
      const user = aUser();
      const subscription = aSubscription();
      await expect(sut.register(user, subscription, 1000)).resolves.toEqual({
        id: subscriptionIdOf(subscription.endpoint),
        created: true,
        removed: [],
      });
      await expect(sut.list(user)).resolves.toEqual([
        {
          ...subscription,
          id: subscriptionIdOf(subscription.endpoint),
          userId: user,
          createdAt: 1000,
          lastPushedAt: null,
        },
      ]);
      await expect(sut.list(aUser())).resolves.toEqual([]);
    });

    it('keeps the id and creation time of an endpoint registered again, taking its new keys', async () => {
      const user = aUser();
      const subscription = aSubscription();
      const first = await sut.register(user, subscription, 1000);
      const renewed = {
        ...subscription,
        keys: { p256dh: 'new-p256dh', auth: 'new-auth' },
        expirationTime: 5,
      };
      await expect(sut.register(user, renewed, 2000)).resolves.toEqual({
        id: first.id,
        created: false,
        removed: [],
      });
      await expect(sut.list(user)).resolves.toMatchObject([
        { id: first.id, keys: renewed.keys, expirationTime: 5, createdAt: 1000 },
      ]);
    });

    it('moves an endpoint registered by another user to the new one', async () => {
      const [alice, bob] = [aUser(), aUser()];
      const subscription = aSubscription();
      const { id } = await sut.register(alice, subscription, 1000);
      await expect(sut.register(bob, subscription, 2000)).resolves.toEqual({
        id,
        created: true,
        removed: [{ userId: alice, subscriptionId: id, reason: 'moved' }],
      });
      await expect(sut.list(alice)).resolves.toEqual([]);
      await expect(sut.list(bob)).resolves.toMatchObject([{ id, userId: bob, createdAt: 2000 }]);
      await expect(sut.remove(alice, id)).resolves.toBe(false);
    });

    it('replaces the subscription pushed least recently when a user registers one past the cap', async () => {
      const user = aUser();
      const ids: string[] = [];
      for (let i = 0; i < MAX_SUBSCRIPTIONS_PER_USER; i++) {
        ids.push((await sut.register(user, aSubscription(`cap-${i}`), 10_000 + i)).id);
      }
      // Every one but #1 is pushed after #1 was registered: #1 is the stalest (never pushed, oldest).
      await sut.markPushed(user, ids.slice(2), 50_000);
      await sut.markPushed(user, [ids[0]], 60_000);
      const extra = await sut.register(user, aSubscription('cap-extra'), 70_000);
      expect(extra).toMatchObject({
        created: true,
        removed: [{ userId: user, subscriptionId: ids[1], reason: 'replaced' }],
      });
      const listed = (await sut.list(user)).map((entry) => entry.id);
      expect(listed).toHaveLength(MAX_SUBSCRIPTIONS_PER_USER);
      expect(listed).not.toContain(ids[1]);
      expect(listed).toContain(extra.id);
      expect(listed).toContain(ids[0]);
    });

    it('never overshoots the cap under concurrent registrations', async () => {
      const user = aUser();
      await Promise.all(
        Array.from({ length: MAX_SUBSCRIPTIONS_PER_USER + 20 }, (_, i) =>
          sut.register(user, aSubscription(`burst-${i}`), 1000 + i),
        ),
      );
      await expect(sut.list(user)).resolves.toHaveLength(MAX_SUBSCRIPTIONS_PER_USER);
    });

    it('records push times, and ignores subscriptions that are gone', async () => {
      const user = aUser();
      const { id } = await sut.register(user, aSubscription(), 1000);
      await sut.markPushed(user, [id, 'no-such-subscription'], 4242);
      await expect(sut.list(user)).resolves.toMatchObject([{ id, lastPushedAt: 4242 }]);
      await sut.remove(user, id);
      await sut.markPushed(user, [id], 5000);
      await expect(sut.list(user)).resolves.toEqual([]);
    });

    it('removes only the user’s own subscription; the endpoint can then be registered afresh', async () => {
      const [alice, bob] = [aUser(), aUser()];
      const subscription = aSubscription();
      const { id } = await sut.register(alice, subscription, 1000);
      await expect(sut.remove(bob, id)).resolves.toBe(false);
      await expect(sut.remove(alice, id)).resolves.toBe(true);
      await expect(sut.remove(alice, id)).resolves.toBe(false);
      await expect(sut.register(bob, subscription, 2000)).resolves.toEqual({
        id,
        created: true,
        removed: [],
      });
    });
  });
});
