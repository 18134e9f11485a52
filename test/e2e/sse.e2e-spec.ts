import { aNotification, aToken, aUserId, connect, publish, refusedUpgrade } from '../support/client';
import { range, startCluster, TestCluster } from '../support/cluster';
import { httpRequest } from '../support/http';
import { SseTestClient } from '../support/sse';
import { waitUntil } from '../support/wait';

const sseUrl = (origin: string, query: Record<string, string>) =>
  `${origin}/v1/sse?${new URLSearchParams(query).toString()}`;

/** GET /v1/sse without following the stream: the refusal's status and JSON body. */
async function refusal(url: string, headers: Record<string, string> = {}) {
  const response = await httpRequest('GET', url, { headers, timeoutMs: 5000 });
  return { status: response.status, body: JSON.parse(response.text) as Record<string, unknown> };
}

/**
 * `GET /v1/sse` with a real EventSource client (the `eventsource` package), on two replicas and one
 * Redis: delivery and topics, the same refusals as the WebSocket handshake, recovery through
 * `Last-Event-ID` across a replica SIGKILL and through the `lastEventId` query, token expiry, drain,
 * and the per-user cap shared with WebSocket connections.
 */
describe('GET /v1/sse', () => {
  let cluster: TestCluster;
  const clients: SseTestClient[] = [];
  const open = (...args: ConstructorParameters<typeof SseTestClient>) => {
    const client = new SseTestClient(...args);
    clients.push(client);
    return client;
  };

  beforeEach(async () => {
    cluster = await startCluster(2, { MAX_CONNECTIONS_PER_USER: '2', HEARTBEAT_INTERVAL_MS: '1000' });
  });
  afterEach(async () => {
    clients.splice(0).forEach((client) => client.close());
    await cluster.stop();
  });

  it('starts with ready and one subscribed per channel, then delivers personal and topic notifications', async () => {
    const [a] = cluster.replicas;
    const user = aUserId('sse');
    const client = open(aToken({ sub: user, topics: ['orders.*'] }), {
      origin: () => a.url,
      topics: ['orders.1'],
    });
    const subscribed = await client.waitFor('subscribed', 3);
    expect(client.events[0].event).toBe('ready');
    expect(client.events[0].data).toMatchObject({ userId: user, channels: [`user:${user}`, 'broadcast'] });
    expect(subscribed.map((event) => event.data.channel)).toEqual([
      `user:${user}`,
      'broadcast',
      'topic:orders.1',
    ]);
    expect(subscribed.every((event) => event.data.recovered === false)).toBe(true);

    const accepted = await publish(cluster.replicas[1], {
      users: [user],
      topics: ['orders.1'],
      type: 'order.shipped',
      payload: { orderId: 1 },
    });
    expect(accepted.status).toBe(202);
    const received = await client.waitForNotifications(2);
    expect(received.map((n) => n.channel).sort()).toEqual([`user:${user}`, 'topic:orders.1'].sort());
    expect(received.every((n) => n.id === accepted.body.id && n.type === 'order.shipped')).toBe(true);
    expect(client.of('notification').every((event) => event.id.startsWith('1.'))).toBe(true);
  });

  it('refuses before the stream with the WebSocket handshake statuses', async () => {
    const [a] = cluster.replicas;
    const user = aUserId('sse');
    const token = aToken({ sub: user, topics: ['orders.*'] });
    expect(await refusal(sseUrl(a.url, {}))).toMatchObject({ status: 401, body: { statusCode: 401 } });
    expect(
      await refusal(sseUrl(a.url, { access_token: aToken({ sub: user, secret: 'x'.repeat(32) }) })),
    ).toMatchObject({
      status: 401,
    });
    const forbidden = await refusal(sseUrl(a.url, { access_token: token, topics: 'invoices.1' }));
    expect(forbidden).toMatchObject({ status: 403, body: { error: 'Forbidden' } });
    expect(forbidden.body.message).toContain('topic:invoices.1');
    expect((await refusal(sseUrl(a.url, { access_token: token, topics: 'a b' }))).status).toBe(400);
    const tooMany = range(1, 101)
      .map((i) => `orders.${i}`)
      .join(',');
    expect((await refusal(sseUrl(a.url, { access_token: token, topics: tooMany }))).status).toBe(400);
    expect(
      (await refusal(sseUrl(a.url, { access_token: token }), { 'Last-Event-ID': 'not-ours' })).status,
    ).toBe(400);
    // The header form of the token works too.
    const response = await fetch(`${a.url}/v1/sse`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = response.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value as Uint8Array);
    expect(first.startsWith('retry: ')).toBe(true);
    await reader.cancel();
  });

  it('recovers every channel through Last-Event-ID when EventSource reconnects to another replica after a SIGKILL', async () => {
    const [a, b] = cluster.replicas;
    const user = aUserId('sse');
    let origin = a.url;
    const client = open(aToken({ sub: user, topics: ['feed'] }), { origin: () => origin, topics: ['feed'] });
    await client.waitFor('subscribed', 3);
    for (const n of range(1, 5)) {
      expect((await publish(b, { users: [user], topics: ['feed'], type: 't', payload: { n } })).status).toBe(
        202,
      );
    }
    await client.waitForNotifications(10);
    // The balancer sends the reconnect to B; A dies; publishing goes on meanwhile.
    origin = b.url;
    await a.kill();
    for (const n of range(6, 10)) {
      expect((await publish(b, { users: [user], topics: ['feed'], type: 't', payload: { n } })).status).toBe(
        202,
      );
    }
    const received = await client.waitForNotifications(20, undefined, 15_000);
    const recovered = client.of('subscribed').slice(3);
    expect(recovered.map((event) => [event.data.channel, event.data.recovered])).toEqual(
      expect.arrayContaining([
        [`user:${user}`, true],
        ['topic:feed', true],
      ]),
    );
    for (const channel of [`user:${user}`, 'topic:feed']) {
      const onChannel = received.filter((n) => n.channel === channel);
      expect(onChannel.map((n) => n.offset)).toEqual(range(1, 10));
      expect(onChannel.map((n) => (n.payload as { n: number }).n)).toEqual(range(1, 10));
    }
    expect(client.attempts).toBeGreaterThanOrEqual(2);
  });

  it('recovers from the lastEventId query of a new stream (a renewed token), with its changed topics', async () => {
    const [a, b] = cluster.replicas;
    const user = aUserId('sse');
    const first = open(aToken({ sub: user, topics: ['*'] }), { origin: () => a.url, topics: ['x'] });
    await first.waitFor('subscribed', 3);
    await publish(a, { users: [user], topics: ['x'], type: 't', payload: { n: 1 } });
    await first.waitForNotifications(2);
    const lastEventId = first.lastEventId;
    first.close();
    await publish(a, { users: [user], topics: ['x'], type: 't', payload: { n: 2 } });

    const second = open(aToken({ sub: user, topics: ['*'] }), {
      origin: () => b.url,
      topics: ['x', 'y'],
      lastEventId,
    });
    const answers = await second.waitFor('subscribed', 4);
    expect(Object.fromEntries(answers.map((event) => [event.data.channel, event.data.recovered]))).toEqual({
      [`user:${user}`]: true,
      broadcast: true,
      'topic:x': true,
      'topic:y': false,
    });
    const replayed = await second.waitForNotifications(2);
    expect(replayed.map((n) => [n.channel, n.offset])).toEqual(
      expect.arrayContaining([
        [`user:${user}`, 2],
        ['topic:x', 2],
      ]),
    );
  });

  it('ends the stream with an error event token_expired when the token expires', async () => {
    const [a] = cluster.replicas;
    const client = open(aToken({ sub: aUserId('sse'), expiresIn: 2 }), { origin: () => a.url });
    await client.waitFor('ready');
    const [expired] = await client.waitFor('error', 1, 6000);
    expect(expired.data).toMatchObject({ code: 'token_expired' });
    // EventSource reconnects by itself; the expired token is then refused before any stream.
    await waitUntil(() => client.statuses.includes(401), 5000, 'the reconnect to be refused with 401');
  });

  it('ends every stream on drain; EventSource reconnects elsewhere and recovers', async () => {
    const [a, b] = cluster.replicas;
    const user = aUserId('sse');
    let origin = a.url;
    const client = open(aToken({ sub: user }), { origin: () => origin });
    await client.waitFor('subscribed', 2);
    await publish(a, aNotification([user], { n: 1 }));
    await client.waitForNotifications(1);
    origin = b.url;
    expect(await a.stop()).toBe(0);
    await publish(b, aNotification([user], { n: 2 }));
    const received = await client.waitForNotifications(2);
    expect(received.map((n) => n.offset)).toEqual([1, 2]);
    expect(
      client
        .of('subscribed')
        .slice(2)
        .find((e) => e.data.channel === `user:${user}`)?.data.recovered,
    ).toBe(true);
  });

  it('shares the per-user cap with WebSocket connections', async () => {
    const [a, b] = cluster.replicas;
    const user = aUserId('sse');
    const token = aToken({ sub: user });
    const socket = await connect(a, token);
    const stream = open(token, { origin: () => b.url });
    await stream.waitFor('ready');
    expect((await refusal(sseUrl(a.url, { access_token: token }))).status).toBe(429);
    expect((await refusedUpgrade(`${b.wsUrl}?access_token=${token}`)).status).toBe(429);
    await socket.close();
    // The WebSocket's place is given back: a second stream now gets in.
    const second = open(token, { origin: () => a.url });
    await second.waitFor('ready');
    expect(second.statuses).toEqual([200]);
  });
});
