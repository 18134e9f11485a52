import { runAppToExit, TEST_API_KEY } from '../support/app';
import { aToken, aUserId, connect, publish } from '../support/client';
import { startCluster, TestCluster } from '../support/cluster';
import { FakePushService } from '../support/fake-push-service';
import { aVapidEnv, pushEnv, registerSubscription, waitForState } from '../support/push';
import { waitUntil } from '../support/wait';

/**
 * Durable pushes across replicas (two processes of the built app on one Redis): the push of a
 * publish answered 202 survives the SIGKILL of the replica that took the publish, and with every
 * replica polling the queue each push still goes out once.
 */
describe('Web Push across replicas', () => {
  const vapid = aVapidEnv();
  let cluster: TestCluster;
  let pushService: FakePushService;

  beforeAll(async () => {
    pushService = await FakePushService.start(vapid.VAPID_PUBLIC_KEY);
    // A generous start-up deadline: two replicas start at once on a machine shared with other suites.
    cluster = await startCluster(2, pushEnv(vapid, 50), {}, 45_000);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    await pushService?.close();
  });

  it('sends each due push once, whichever replica polls first', async () => {
    const [a, b] = cluster.replicas;
    const users = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const userId = aUserId(`once-${i}`);
        const subscription = pushService.subscribe();
        expect(
          (await registerSubscription(i % 2 ? a : b, aToken({ sub: userId }), subscription)).status,
        ).toBe(201);
        return { userId, subscription };
      }),
    );
    const published = await publish(a, {
      users: users.map((user) => user.userId),
      type: 't',
      payload: 1,
      push: { title: 'Once' },
    });
    expect(published.status).toBe(202);
    const id = published.body.id as string;
    for (const { userId } of users) await waitForState(b, id, userId, 'pushed');
    // Several polls of both replicas after every push settled: none was sent twice.
    const settledAt = Date.now();
    await waitUntil(() => Date.now() > settledAt + 500, 2000, 'several more polls');
    for (const { subscription } of users) expect(pushService.requestsFor(subscription)).toHaveLength(1);
  });

  it('pushes from another replica when the one that answered the 202 is SIGKILLed', async () => {
    const [a, b] = cluster.replicas;
    const userId = aUserId('crash');
    const token = aToken({ sub: userId });
    const subscription = pushService.subscribe();
    expect((await registerSubscription(b, token, subscription)).status).toBe(201);
    // Online on the survivor and never acking: the push is due afterMs after the publish.
    const client = await connect(b, token);
    try {
      const before = Date.now();
      const published = await publish(a, {
        users: [userId],
        type: 't',
        payload: 1,
        push: { title: 'Survives', afterMs: 800 },
      });
      expect(published.status).toBe(202);
      await a.kill();
      const [request] = await pushService.waitForRequests(subscription, 1, 15_000);
      expect(request.at).toBeGreaterThanOrEqual(before + 800);
      expect(JSON.parse(request.message as string)).toMatchObject({
        id: published.body.id,
        title: 'Survives',
      });
      await waitForState(b, published.body.id as string, userId, 'pushed');
    } finally {
      await client.close();
    }
  });
});

describe('Web Push configuration at start-up', () => {
  it('stops naming the missing VAPID variables when only some are set', async () => {
    const { VAPID_PUBLIC_KEY } = aVapidEnv();
    const { code, output } = await runAppToExit({
      NODE_ENV: 'production',
      JWT_SECRET: 'test-jwt-secret-0123456789abcdef',
      API_KEYS: `test:${TEST_API_KEY}`,
      PORT: '0',
      VAPID_PUBLIC_KEY,
    });
    expect(code).not.toBe(0);
    expect(output).toContain('VAPID_PRIVATE_KEY and VAPID_SUBJECT must be set too');
  });
});
