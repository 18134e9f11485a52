import { startApp, TestApp } from '../support/app';
import { aUserId } from '../support/client';
import { startRedisSentinel, TestRedisSentinel } from '../support/redis-sentinel';
import { SteadyTraffic } from '../support/steady-traffic';

/**
 * redis-sentinel.e2e-spec's planned failover where the Sentinels announce host names, as in
 * docker-compose.sentinel.yml: publishes are held until the command connection is on the new master,
 * which the Sentinels name by a host name the replica resolves.
 */
describe('Sentinel failover with host names announced', () => {
  let deployment: TestRedisSentinel;
  let replicas: TestApp[] = [];
  let traffic: SteadyTraffic | undefined;

  beforeAll(async () => {
    deployment = await startRedisSentinel({ replicas: 1, sentinels: 3, hostnames: true });
    const env = { REDIS_SENTINELS: deployment.sentinels, REDIS_SENTINEL_MASTER: deployment.masterName };
    replicas = await Promise.all([startApp(env), startApp(env)]);
  }, 60_000);
  afterAll(async () => {
    await traffic?.close();
    await Promise.all(replicas.map((replica) => replica.kill()));
    await deployment?.stop();
  });

  it('loses nothing through SENTINEL FAILOVER, the new master named by host name', async () => {
    traffic = await SteadyTraffic.start(
      replicas,
      Array.from({ length: 4 }, () => aUserId('sentinel-names')),
    );
    await traffic.advance(10);
    await deployment.failover();
    await deployment.converged();
    await traffic.advance(10);
    await traffic.stop();
    expect(await traffic.check({ lossless: true })).toEqual([]);
    for (const replica of replicas) {
      expect(replica.output()).toMatch(
        /publishes resume after \d+ ms: connected to the new master localhost:\d+/,
      );
    }
  }, 90_000);
});
