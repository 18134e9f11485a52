import { TestApp } from '../support/app';
import {
  aNotification,
  aToken,
  aUserId,
  connect,
  NotificationData,
  publish,
  publishMarker,
  TestClient,
} from '../support/client';
import { range, startCluster, TestCluster } from '../support/cluster';
import { sleep, waitUntil } from '../support/wait';

/** A replica is SIGKILLed mid-stream: its clients reconnect to another and recover from their last offsets. */
describe('replica crash', () => {
  let cluster: TestCluster;
  let a: TestApp;
  let b: TestApp;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    cluster = await startCluster(2);
    [a, b] = cluster.replicas;
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await cluster?.stop();
  });

  it('gives every client the complete ordered sequence after reconnecting to the surviving replica', async () => {
    const users = [aUserId('crash'), aUserId('crash'), aUserId('crash')];
    const onA = await Promise.all(users.map((sub) => connect(a, aToken({ sub }))));
    const onB = await Promise.all(users.map((sub) => connect(b, aToken({ sub }))));
    clients.push(...onA, ...onB);
    const accepted = new Map(users.map((user) => [user, 0]));
    let publishing = true;
    const publisher = (async () => {
      for (let n = 0; publishing; n++) {
        const user = users[n % users.length];
        const response = await publish(b, aNotification([user], { n }));
        if (response.status === 202) accepted.set(user, (accepted.get(user) ?? 0) + 1);
      }
    })();
    await waitUntil(() => [...accepted.values()].every((count) => count >= 10), 5000, 'some traffic');
    await a.kill();

    const survivors: TestClient[] = [];
    for (const [index, user] of users.entries()) {
      const before = onA[index].notifications(`user:${user}`);
      const last = before[before.length - 1];
      await sleep(50);
      const back = await connect(b, aToken({ sub: user }), {
        query: { offset: last.offset, epoch: last.epoch },
      });
      clients.push(back);
      survivors.push(back);
      expect((await back.nextFrame('subscribed')).data).toMatchObject({ recovered: true });
    }
    await sleep(300);
    publishing = false;
    await publisher;

    // After every accepted publish: what comes before it on each connection is all it will get.
    const marker = await publishMarker(b, { users });
    for (const [index, user] of users.entries()) {
      const total = accepted.get(user) ?? 0;
      const combined: NotificationData[] = [
        ...onA[index].notifications(),
        ...(await survivors[index].notificationsBefore(marker)),
      ];
      expect(combined.map((n) => n.offset)).toEqual(range(1, total));
      expect((await onB[index].notificationsBefore(marker)).map((n) => n.offset)).toEqual(range(1, total));
    }
  }, 30_000);
});
