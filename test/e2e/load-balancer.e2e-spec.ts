import { startApp, TestApp } from '../support/app';
import {
  aNotification,
  aToken,
  aUserId,
  connect,
  NotificationData,
  publish,
  publishMarker,
  refusedUpgrade,
  TestClient,
} from '../support/client';
import {
  composeConfig,
  establishedTo,
  findExecutable,
  hasDockerCompose,
  startNginx,
  TestNginx,
} from '../support/nginx';
import { startRedis, TestRedis } from '../support/redis';
import { SseTestClient } from '../support/sse';
import { waitUntil } from '../support/wait';

/**
 * deploy/nginx.conf, as shipped, in front of two real replicas on one Redis: what a client of the
 * docker-compose deployment sees through the load balancer.
 */
const hasNginx = findExecutable('nginx') !== undefined;
if (!hasNginx)
  console.log('load-balancer e2e skipped: nginx is not installed (.ci/run installs nginx-light)');
const withNginx = hasNginx ? describe : describe.skip;

withNginx('nginx load balancer (deploy/nginx.conf) in front of two replicas', () => {
  let redis: TestRedis;
  let a: TestApp;
  let b: TestApp;
  let lb: TestNginx;
  const clients: TestClient[] = [];
  const track = (client: TestClient) => (clients.push(client), client);

  beforeAll(async () => {
    redis = await startRedis();
    [a, b] = await Promise.all([startApp({ REDIS_URL: redis.url }), startApp({ REDIS_URL: redis.url })]);
    lb = await startNginx([a.port, b.port]);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await lb?.stop();
    await Promise.all([a?.kill(), b?.kill()]);
    await redis?.stop();
  });

  it('upgrades a WebSocket through nginx and sends ready', async () => {
    const user = aUserId('lb');
    const client = track(await connect(lb, aToken({ sub: user })));
    expect(client.frames[0]).toMatchObject({
      event: 'ready',
      data: { userId: user, channels: [`user:${user}`, 'broadcast'] },
    });
  });

  it('delivers a notification published through nginx to a WebSocket opened through nginx', async () => {
    const user = aUserId('lb');
    const client = track(await connect(lb, aToken({ sub: user })));
    const response = await publish(lb, aNotification([user], { via: 'nginx' }));
    expect(response.status).toBe(202);
    const [notification] = await client.waitForNotifications(1);
    expect(notification).toMatchObject({
      id: response.body.id,
      channel: `user:${user}`,
      offset: 1,
      payload: { via: 'nginx' },
    });
  });

  it('streams Server-Sent Events through nginx unbuffered: each notification arrives at once', async () => {
    const user = aUserId('lb');
    const stream = new SseTestClient(aToken({ sub: user }), { origin: () => lb.url });
    try {
      await stream.waitFor('subscribed', 2);
      for (const n of [1, 2, 3]) {
        expect((await publish(lb, aNotification([user], { n }))).status).toBe(202);
        // A buffering proxy would hold this small event until its buffer filled or the stream ended.
        await stream.waitForNotifications(n, undefined, 2000);
      }
      expect(stream.notifications().map((notification) => notification.offset)).toEqual([1, 2, 3]);
    } finally {
      stream.close();
    }
  });

  it('spreads WebSockets over both replicas (least_conn)', async () => {
    const before = [establishedTo(a.port), establishedTo(b.port)];
    for (let i = 0; i < 6; i++) track(await connect(lb, aToken()));
    const added = [establishedTo(a.port) - before[0], establishedTo(b.port) - before[1]];
    // 3 and 3 when every upgrade takes a new upstream connection; one may reuse an idle keepalive one.
    expect(added[0]).toBeGreaterThanOrEqual(2);
    expect(added[1]).toBeGreaterThanOrEqual(2);
  });

  it('passes the 401 refusal before the upgrade through, with its JSON body', async () => {
    const badToken = await refusedUpgrade(`${lb.wsUrl}?access_token=${aToken({ secret: 'not-the-secret' })}`);
    expect(badToken.status).toBe(401);
    expect(badToken.headers['content-type']).toMatch(/application\/json/);
    expect(badToken.body).toMatchObject({
      statusCode: 401,
      error: 'Unauthorized',
      message: expect.any(String) as unknown,
    });

    const noToken = await refusedUpgrade(lb.wsUrl);
    expect(noToken.status).toBe(401);
    expect(noToken.body).toMatchObject({ statusCode: 401 });

    const expiredHeader = await refusedUpgrade(lb.wsUrl, {
      authorization: `Bearer ${aToken({ expiresIn: -60 })}`,
    });
    expect(expiredHeader.status).toBe(401);
    expect(expiredHeader.body).toMatchObject({ statusCode: 401 });
  });

  it("answers a body over MAX_PAYLOAD_BYTES with the contract's JSON 413", async () => {
    const response = await publish(lb, aNotification([aUserId('big')], { blob: 'x'.repeat(70_000) }));
    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
  });

  it('after SIGTERM of one replica, its clients get 1012 and reconnect through nginx to the other, and recover', async () => {
    const users = Array.from({ length: 6 }, () => aUserId('drain'));
    const first = new Map<string, TestClient>();
    for (const user of users) first.set(user, track(await connect(lb, aToken({ sub: user }))));
    expect(establishedTo(a.port)).toBeGreaterThan(0);

    // Each user sees offset 1 before the restart.
    for (const user of users) expect((await publish(lb, aNotification([user], { n: 1 }))).status).toBe(202);
    const seen = new Map<string, NotificationData>();
    for (const user of users) seen.set(user, (await first.get(user)!.waitForNotifications(1))[0]);

    const exit = a.stop();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), 15_000)));
    const code = await Promise.race([exit, late]);
    clearTimeout(timer);
    expect(code).toBe(0);
    // A closed its sockets as it exited and nginx passes each close on; a client on B is still live:
    // it gets this marker (A, gone, delivers nothing more).
    const marker = await publishMarker(lb, { broadcast: true });
    await waitUntil(
      () => [...first.values()].every((client) => client.closeEvent ?? client.hasMarker(marker)),
      10_000,
      'every client closed or reached by the marker',
    );
    const closedWith = new Map<string, number>();
    for (const user of users) {
      const { closeEvent } = first.get(user)!;
      if (closeEvent) closedWith.set(user, closeEvent.code);
    }

    const restarted = users.filter((user) => closedWith.has(user));
    // The clients on A (some, not all: they were spread) were closed with 1012; those on B stay open.
    expect(restarted.length).toBeGreaterThan(0);
    expect(restarted.length).toBeLessThan(users.length);
    for (const user of restarted) expect(closedWith.get(user)).toBe(1012);
    for (const user of users.filter((u) => !closedWith.has(u)))
      expect(first.get(user)!.socket.readyState).toBe(1);

    // Published while they were away: stored in history, replayed on reconnect.
    for (const user of restarted)
      expect((await publish(lb, aNotification([user], { n: 2 }))).status).toBe(202);

    for (const user of restarted) {
      const { offset, epoch } = seen.get(user)!;
      const again = track(await connect(lb, aToken({ sub: user }), { query: { offset, epoch } }));
      const subscribed = await again.nextFrame('subscribed');
      expect(subscribed.data).toMatchObject({ channel: `user:${user}`, recovered: true });
      const [missed] = await again.waitForNotifications(1);
      expect(missed).toMatchObject({ offset: offset + 1, epoch, payload: { n: 2 } });
    }
    // Replica A is gone: every connection now goes through nginx to B.
    expect(establishedTo(a.port)).toBe(0);
    expect(establishedTo(b.port)).toBeGreaterThanOrEqual(users.length);
  });
});

const withCompose = hasDockerCompose() ? describe : describe.skip;
if (!hasDockerCompose())
  console.log('docker-compose config check skipped: docker-compose is not installed (.ci/run installs it)');

/** Each compose file and the services it must run: the engine's, three replicas and nginx. */
const COMPOSE_FILES: Array<[string, string[]]> = [
  ['docker-compose.yml', ['redis']],
  [
    'docker-compose.cluster.yml',
    [1, 2, 3, 4, 5, 6].map((n) => `redis-node-${n}`).concat('redis-cluster-init'),
  ],
  [
    'docker-compose.sentinel.yml',
    ['redis-master', 'redis-replica', 'redis-sentinel-1', 'redis-sentinel-2', 'redis-sentinel-3'],
  ],
];
const SECRETS = { JWT_SECRET: 'compose-check', API_KEYS: 'compose-check' };

withCompose.each(COMPOSE_FILES)('%s', (file, engineServices) => {
  it('is valid with JWT_SECRET and API_KEYS set, and runs the engine, three replicas and nginx', () => {
    const result = composeConfig(file, SECRETS);
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
    const services = composeConfig(file, SECRETS, ['--services']);
    expect(services.status).toBe(0);
    expect(services.output.trim().split('\n').sort()).toEqual(
      [...engineServices, 'herald-1', 'herald-2', 'herald-3', 'nginx'].sort(),
    );
  });

  it('refuses to render without JWT_SECRET, naming it', () => {
    const result = composeConfig(file, { API_KEYS: 'compose-check' });
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/set JWT_SECRET/);
  });
});
