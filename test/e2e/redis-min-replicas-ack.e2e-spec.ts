import calculateSlot from 'cluster-key-slot';
import Redis from 'ioredis';
import { aNotification, aUserId, publish, PublishResponse } from '../support/client';
import { startReplicasOnRedisCluster, TestReplicasOnRedisCluster } from '../support/cluster';
import { getJson } from '../support/http';
import { TEST_API_KEY } from '../support/app';
import { waitUntil } from '../support/wait';

/**
 * REDIS_MIN_REPLICAS_ACK=1 on a Redis Cluster: a 202 means the shard's replica has the write, so a
 * master SIGKILLed right after a burst of 202s loses none of them (its replica, promoted, has them all).
 */
describe('REDIS_MIN_REPLICAS_ACK=1', () => {
  let sut: TestReplicasOnRedisCluster;

  beforeAll(async () => {
    sut = await startReplicasOnRedisCluster(2, { REDIS_MIN_REPLICAS_ACK: '1' });
  }, 60_000);
  afterAll(() => sut?.stop());

  it('keeps every 202 of a burst when the master is killed right after it', async () => {
    const user = aUserId('durable');
    const burst: PublishResponse[] = await Promise.all(
      Array.from({ length: 50 }, (_, n) => publish(sut.replicas[n % 2], aNotification([user], { n }))),
    );
    expect(burst.map(({ status }) => status)).toEqual(burst.map(() => 202));
    await sut.redis.killMaster(calculateSlot(`{user:${user}}`));

    // Until the replica's slot map names the promoted master, reads answer 503.
    const history = await waitUntil(
      async () => {
        const page = await getJson(`${sut.replicas[0].url}/v1/channels/user:${user}/history?limit=100`, {
          authorization: `Bearer ${TEST_API_KEY}`,
        });
        return page.status === 200 ? page : undefined;
      },
      10_000,
      'the history from the promoted master',
    );
    const stored = (history.body.notifications as { id: string; epoch: string }[]).map(({ id }) => id);
    expect(stored.sort()).toEqual(burst.map(({ body }) => body.id).sort());
    expect(history.body.epoch).toBe(burst[0].body.deliveries?.[0].epoch);
  }, 60_000);

  it('answers 503 with Retry-After when no replica acknowledges in time, and a retry under the same key completes the publish once', async () => {
    // A user on a master that still has a live replica (the first case killed one master).
    const nodes = await sut.redis.nodes();
    let user = aUserId('unreplicated');
    const replicaOf = async (candidate: string) => {
      const master = await sut.redis.masterOf(`{user:${candidate}}`);
      return nodes.find((node) => node.masterId === master.id && node.alive && !node.failed);
    };
    let replica = await replicaOf(user);
    while (!replica) replica = await replicaOf((user = aUserId('unreplicated')));
    // The replica stops applying the stream for a while (shorter than node-timeout, so nothing fails
    // over): WAIT 1 1000 times out with 0.
    const paused = sut.redis.stall(replica.port, 1.8);
    const probe = new Redis({ port: replica.port, commandTimeout: 200, maxRetriesPerRequest: 0 });
    probe.on('error', () => undefined);
    try {
      await waitUntil(
        () =>
          probe.ping().then(
            () => false,
            () => true,
          ),
        5000,
        'the replica stalled',
      );
    } finally {
      probe.disconnect();
    }
    const key = { headers: { 'idempotency-key': `durable-${user}` } };
    const response = await publish(sut.replicas[0], aNotification([user]), key);
    await paused;
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBeDefined();

    // The write preceded WAIT: the retry under the same key completes it, with one copy stored.
    const retry = await publish(sut.replicas[1], aNotification([user]), key);
    expect(retry.status).toBe(202);
    const page = await getJson(`${sut.replicas[0].url}/v1/channels/user:${user}/history`, {
      authorization: `Bearer ${TEST_API_KEY}`,
    });
    expect((page.body.notifications as { id: string }[]).map(({ id }) => id)).toEqual([retry.body.id]);
  }, 30_000);
});
