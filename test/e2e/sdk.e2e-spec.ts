import WebSocket from 'ws';
import { HeraldClient } from '../../client/src/index';
import { startApp, TestApp } from '../support/app';
import { aToken, aUserId, MARKER_TYPE, publish, publishMarker } from '../support/client';
import { startRedis, TestRedis } from '../support/redis';
import { recordOnTopic } from '../support/sdk';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { waitUntil } from '../support/wait';

interface Accepted {
  seq: number;
  id: string;
  deliveries: { channel: string; offset: number; epoch: string }[];
}

/**
 * The SDK against two replicas on one Redis, reached through one address. Replica A, which the client
 * is connected to, is killed (SIGKILL) while a publisher keeps publishing through replica B; the
 * client reconnects through the proxy to B and recovers.
 */
describe(`${HeraldClient.name} against two replicas`, () => {
  let redis: TestRedis;
  let a: TestApp;
  let b: TestApp;
  let proxy: TcpProxy;
  let sut: HeraldClient | undefined;

  beforeAll(async () => {
    redis = await startRedis();
    [a, b] = await Promise.all([startApp({ REDIS_URL: redis.url }), startApp({ REDIS_URL: redis.url })]);
    proxy = await startTcpProxy(a.port);
  });
  afterEach(() => {
    sut?.close();
    sut = undefined;
  });
  afterAll(async () => {
    await proxy?.close();
    await Promise.all([a?.kill(), b?.kill()]);
    await redis?.stop();
  });

  it('ends with every accepted notification, once and in order, after its replica is killed mid-stream', async () => {
    const user = aUserId('sdk');
    const topic = `sdk.${Date.now().toString(36)}`;
    const channels = [`user:${user}`, `topic:${topic}`];
    const client = new HeraldClient({
      url: `ws://127.0.0.1:${proxy.port}/v1/ws`,
      token: aToken({ sub: user, topics: ['sdk.*'] }),
      WebSocket,
      reconnectBackoff: { baseMs: 100, capMs: 1000 },
    });
    sut = client;
    const { received, events } = await recordOnTopic(client, topic);

    // Each publish goes to both channels: the personal one recovers through the connect query,
    // the topic through a recovering subscribe.
    const accepted: Accepted[] = [];
    const refused: number[] = [];
    let publishing = true;
    const publisher = (async () => {
      for (let seq = 1; publishing; seq++) {
        const response = await publish(b, { users: [user], topics: [topic], type: 'tick', payload: { seq } });
        if (response.status !== 202) refused.push(response.status);
        else accepted.push({ seq, id: response.body.id ?? '', deliveries: response.body.deliveries ?? [] });
      }
    })();

    try {
      await waitUntil(() => received.length >= 2 * 20, 10_000, '20 live notifications per channel');
      await a.kill();
      await waitUntil(() => events.disconnected.length > 0, 5000, 'the client to see its replica go');
      // The load balancer has not noticed yet: these are published while the client cannot be reached.
      const acceptedWhileCut = accepted.length;
      await waitUntil(() => accepted.length >= acceptedWhileCut + 15, 10_000, '15 more publishes');
      expect(client.state).not.toBe('connected');
      expect(events.connected).toHaveLength(1);

      proxy.routeTo(b.port);
      await waitUntil(() => events.connected.length === 2, 10_000, 'the client to reconnect, to B');
      const acceptedAtReconnect = accepted.length;
      await waitUntil(() => accepted.length >= acceptedAtReconnect + 20, 10_000, '20 publishes after it');
    } finally {
      publishing = false;
      await publisher;
    }

    expect(refused).toEqual([]);
    await waitUntil(
      () => received.length >= 2 * accepted.length,
      10_000,
      `${2 * accepted.length} notifications (have ${received.length})`,
    );
    // A duplicate would arrive before the marker on its channel.
    const marker = await publishMarker(b, { users: [user], topics: [topic] });
    const markers = await waitUntil(
      () => {
        const found = received.filter((n) => n.type === MARKER_TYPE);
        return found.length === channels.length && found;
      },
      10_000,
      'the marker on both channels',
    );
    expect(markers.map((n) => n.payload)).toEqual(channels.map(() => ({ marker })));
    received.splice(0, received.length, ...received.filter((n) => n.type !== MARKER_TYPE));
    expect(received).toHaveLength(2 * accepted.length);
    for (const channel of channels) {
      const got = received.filter((notification) => notification.channel === channel);
      expect(got.map((notification) => notification.id)).toEqual(accepted.map(({ id }) => id));
      expect(got.map((notification) => notification.payload)).toEqual(accepted.map(({ seq }) => ({ seq })));
      expect(got.map((notification) => notification.offset)).toEqual(accepted.map((_, i) => i + 1));
      const offsets = accepted.map(({ deliveries }) => deliveries.find((d) => d.channel === channel)?.offset);
      expect(got.map((notification) => notification.offset)).toEqual(offsets);
    }
    expect(events.unrecovered).toEqual([]);
    expect(events.error).toEqual([]);
    expect(events.disconnected.every((event) => event.willReconnect)).toBe(true);
  }, 60_000);
});
