import { startApp, TestApp } from '../support/app';
import { aUserId } from '../support/client';
import { startRedisSentinel, TestRedisSentinel } from '../support/redis-sentinel';
import { SteadyTraffic } from '../support/steady-traffic';

/**
 * Replicas in Sentinel mode (REDIS_SENTINELS + REDIS_SENTINEL_MASTER) through Sentinel failovers under
 * steady traffic: every client keeps its socket and holds every accepted notification once, in order
 * (or its channel starts a new epoch where the failover lost acknowledged writes).
 */
describe('Sentinel failover under steady traffic', () => {
  let deployment: TestRedisSentinel;
  let replicas: TestApp[] = [];
  let traffic: SteadyTraffic | undefined;

  beforeAll(async () => {
    deployment = await startRedisSentinel({ replicas: 1, sentinels: 3 });
    const env = { REDIS_SENTINELS: deployment.sentinels, REDIS_SENTINEL_MASTER: deployment.masterName };
    replicas = await Promise.all([startApp(env), startApp(env)]);
  }, 60_000);
  afterEach(async () => {
    await traffic?.close();
    traffic = undefined;
  });
  afterAll(async () => {
    await Promise.all(replicas.map((replica) => replica.kill()));
    await deployment?.stop();
  });

  const run = async (label: string, fault: () => Promise<unknown>, lossless = false) => {
    const users = Array.from({ length: 4 }, () => aUserId(label));
    traffic = await SteadyTraffic.start(replicas, users);
    await traffic.advance(10);
    await fault();
    await traffic.advance(10);
    await traffic.stop();
    expect(await traffic.check({ lossless })).toEqual([]);
  };

  it('loses nothing through SENTINEL FAILOVER: publishes answer 503 while it is in progress', async () => {
    await run(
      'sentinel-failover',
      async () => {
        await deployment.failover();
        await deployment.converged();
      },
      true,
    );
    expect(traffic?.unavailable).toBeGreaterThan(0);
    for (const replica of replicas) {
      expect(replica.output()).toMatch(/publishes resume after \d+ ms: connected to the new master/);
    }
  }, 90_000);

  it('loses nothing unannounced when the master is killed (kill -9)', async () => {
    await run('sentinel-kill', () => deployment.killMaster());
  }, 90_000);
});
