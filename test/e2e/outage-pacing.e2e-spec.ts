import { startApp, TestApp } from '../support/app';
import { aToken, aUserId, connect, post, TestClient } from '../support/client';
import { range } from '../support/cluster';
import { startRedis, TestRedis } from '../support/redis';
import { sleep, waitUntil } from '../support/wait';

const CLIENTS = 30;
const TOPICS_PER_CLIENT = 100;
/** How long the engine keeps failing the replica's history reads. */
const OUTAGE_MS = 6000;

/** Calls and refusals of EVALSHA/EVAL so far (every history read is a script). */
async function scriptCalls(redis: TestRedis): Promise<{ calls: number; rejected: number }> {
  const stats = await redis.client().info('commandstats');
  let calls = 0;
  let rejected = 0;
  for (const match of stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+),.*?rejected_calls=(\d+)/gm)) {
    calls += Number(match[1]);
    rejected += Number(match[2]);
  }
  return { calls, rejected };
}

/**
 * Contract, "Replay pace and outages": while Redis fails a replica's history reads, its retries are
 * paced per engine, not per channel, and it writes at most a few log lines about it, whatever the
 * number of channels; when Redis answers again, catching up completes.
 *
 * Replica A holds 3,000 channels (30 clients × 100 topics). Redis keeps accepting A's connections
 * and its subscriptions but refuses it every script (an ACL without EVAL/EVALSHA), so every history
 * read fails; the subscription link is then cut, so A must catch up all 3,000 channels, while
 * replica B (another Redis user) publishes one notification to each of them.
 */
describe('an engine outage with thousands of channels held', () => {
  let redis: TestRedis;
  let a: TestApp;
  let b: TestApp;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    redis = await startRedis({ shared: false });
    await redis.client().call('ACL', 'SETUSER', 'publisher', 'on', '>publisher-pw', '~*', '&*', '+@all');
    [a, b] = await Promise.all([
      startApp({ REDIS_URL: redis.url }),
      startApp({ REDIS_URL: `redis://publisher:publisher-pw@127.0.0.1:${redis.port}` }),
    ]);
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all([a?.kill(), b?.kill()]);
    await redis?.stop();
  });

  it('paces the catch-ups and their logging, and completes them when Redis answers again', async () => {
    const topicsOf = (client: number) => range(1, TOPICS_PER_CLIENT).map((t) => `outage.${client}.${t}`);
    for (const c of range(1, CLIENTS)) {
      const client = await connect(a, aToken({ sub: aUserId('outage'), topics: ['*'] }));
      clients.push(client);
      for (const topic of topicsOf(c)) client.send('subscribe', { channel: `topic:${topic}` });
    }
    await Promise.all(
      clients.map((client) =>
        waitUntil(
          () => client.frames.filter((f) => f.event === 'subscribed').length >= TOPICS_PER_CLIENT,
          30_000,
          'every subscribe answered',
        ),
      ),
    );

    // Redis refuses A every script from now on; B (its own user) still publishes.
    await redis.client().call('ACL', 'SETUSER', 'default', '-eval', '-evalsha', '-eval_ro', '-evalsha_ro');
    const before = await scriptCalls(redis);
    const logStart = a.output().length;
    await redis.client().call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await waitUntil(
      () => a.output().includes('subscription link restored; catching up', logStart),
      10_000,
      'replica A to resubscribe and start catching up',
    );
    for (const c of range(1, CLIENTS)) {
      const notifications = topicsOf(c).map((topic) => ({
        topics: [topic],
        type: 'outage',
        payload: { topic },
      }));
      expect((await post(b, '/v1/notifications/batch', { notifications })).status).toBe(202);
    }
    await sleep(OUTAGE_MS);

    const during = await scriptCalls(redis);
    const attempts = during.rejected - before.rejected;
    const warnings = a
      .output()
      .slice(logStart)
      .split('\n')
      .filter((line) => line.includes('"level":40'));
    // Unpaced, every channel retried every second: ~3,000 refused reads and ~3,000 log lines a second.
    expect(attempts).toBeGreaterThan(0);
    expect(attempts).toBeLessThan(600);
    expect(warnings.length).toBeLessThanOrEqual(Math.ceil(OUTAGE_MS / 1000));
    // Nothing was dispatched out of order meanwhile: the channels hold what arrives.
    expect(clients.every((client) => client.notifications().length === 0)).toBe(true);

    await redis.client().call('ACL', 'SETUSER', 'default', '+@all');
    const caughtUpBy = Date.now();
    await Promise.all(
      clients.map((client, i) =>
        waitUntil(
          () => client.notifications().length >= TOPICS_PER_CLIENT && client.notifications(),
          30_000,
          `client ${i + 1}'s ${TOPICS_PER_CLIENT} notifications`,
          50,
        ),
      ),
    );
    for (const [i, client] of clients.entries()) {
      const channels = client.notifications().map((n) => n.channel);
      expect(channels.sort()).toEqual(
        topicsOf(i + 1)
          .map((topic) => `topic:${topic}`)
          .sort(),
      );
      expect(client.notifications().every((n) => n.offset === 1)).toBe(true);
    }
    const allLines = a.output().slice(logStart).split('\n');
    expect(allLines.some((line) => line.includes('engine answers again'))).toBe(true);
    // For the record (visible with --verbose): refused reads during the outage, and the time to catch up.
    process.stdout.write(
      `outage: ${attempts} refused history reads in ${OUTAGE_MS} ms, ${warnings.length} warnings; ` +
        `caught up ${CLIENTS * TOPICS_PER_CLIENT} channels ${Date.now() - caughtUpBy} ms after Redis answered\n`,
    );
  }, 120_000);
});
