import { aNotification, aToken, aUserId, connect, publish, TestClient } from '../support/client';
import { startReplicasOnRedisCluster, TestReplicasOnRedisCluster } from '../support/cluster';
import { waitUntil } from '../support/wait';

/** Three replicas on a 3-master Redis Cluster (sharded pub/sub). */
describe('on a Redis Cluster', () => {
  let sut: TestReplicasOnRedisCluster;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    sut = await startReplicasOnRedisCluster(3);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await sut?.stop();
  });

  it('delivers a notification published on one replica to a user connected on another', async () => {
    const user = aUserId('cluster');
    const client = await connect(sut.replicas[0], aToken({ sub: user }));
    clients.push(client);
    const response = await publish(sut.replicas[1], aNotification([user], { n: 1 }));
    expect(response.status).toBe(202);
    await waitUntil(() => client.notifications(`user:${user}`).length === 1, 5000, 'the notification');
  });
});
