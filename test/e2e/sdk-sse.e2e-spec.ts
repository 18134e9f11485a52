import { EventSource } from 'eventsource';
import { HeraldClient, type HeraldClientOptions, type HeraldNotification } from '../../client/src/index';
import type { TestApp } from '../support/app';
import { aToken, aUserId, MARKER_TYPE, publish } from '../support/client';
import { startCluster, type TestCluster } from '../support/cluster';
import { recordOnTopic } from '../support/sdk';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { sleep, waitUntil } from '../support/wait';

/** At most 100 publishes a second. */
const PUBLISH_INTERVAL_MS = 10;

/** The `eventsource` package's EventSource, recording the URL of every stream the SDK opened. */
class RecordedEventSource extends EventSource {
  static readonly opened: string[] = [];

  constructor(url: string) {
    super(url);
    RecordedEventSource.opened.push(url);
  }
}

interface Accepted {
  seq: number;
  id: string;
}

/**
 * The SDK over Server-Sent Events (the `eventsource` package) against two replicas on one Redis,
 * reached through a TCP forwarder standing in for a load balancer; notifications are published through
 * the replica the client is not on, so they cross Redis.
 */
describe(`${HeraldClient.name} over SSE against two replicas`, () => {
  let cluster: TestCluster;
  let a: TestApp;
  let b: TestApp;
  let proxy: TcpProxy;
  let sut: HeraldClient | undefined;

  beforeAll(async () => {
    cluster = await startCluster(2);
    [a, b] = cluster.replicas;
    proxy = await startTcpProxy(a.port);
  });
  afterEach(() => {
    sut?.close();
    sut = undefined;
  });
  afterAll(async () => {
    await proxy?.close();
    await cluster?.stop();
  });

  /** An SDK on SSE through the proxy, on its personal channel and `topic`, connected and caught up. */
  async function aConnectedClient(user: string, topic: string, options: Partial<HeraldClientOptions> = {}) {
    const client = new HeraldClient({
      url: `http://127.0.0.1:${proxy.port}/v1/sse`,
      transport: 'sse',
      EventSource: RecordedEventSource,
      token: aToken({ sub: user, topics: ['sse.*'] }),
      reconnectBackoff: { baseMs: 100, capMs: 1000 },
      ...options,
    });
    sut = client;
    return { client, ...(await recordOnTopic(client, topic)) };
  }

  /**
   * Publishes `{seq}` to the user and the topic through B until `stop()`; the accepted ones in order.
   * Paced, so that a cut of a few seconds stays within HISTORY_SIZE (1000) and is recoverable.
   */
  function startPublishing(user: string, topic: string) {
    const accepted: Accepted[] = [];
    const refused: number[] = [];
    let publishing = true;
    const done = (async () => {
      for (let seq = 1; publishing; seq++) {
        const response = await publish(b, { users: [user], topics: [topic], type: 'tick', payload: { seq } });
        if (response.status !== 202) refused.push(response.status);
        else accepted.push({ seq, id: response.body.id ?? '' });
        await sleep(PUBLISH_INTERVAL_MS);
      }
    })();
    const stop = async () => {
      publishing = false;
      await done;
    };
    return { accepted, refused, stop };
  }

  /**
   * Waits for a marker published after everything else to reach both channels, then expects every
   * accepted notification exactly once per channel, in order, with consecutive offsets from 1.
   */
  async function expectEachOnceInOrder(
    received: HeraldNotification[],
    accepted: Accepted[],
    user: string,
    topic: string,
  ): Promise<void> {
    const marker = await publish(b, { users: [user], topics: [topic], type: MARKER_TYPE, payload: {} });
    expect(marker.status).toBe(202);
    await waitUntil(
      () => received.filter((notification) => notification.type === MARKER_TYPE).length === 2,
      10_000,
      'the marker on both channels',
    );
    for (const channel of [`user:${user}`, `topic:${topic}`]) {
      const got = received.filter((notification) => notification.channel === channel);
      expect(got.map((notification) => notification.id)).toEqual([
        ...accepted.map(({ id }) => id),
        marker.body.id,
      ]);
      expect(got.slice(0, -1).map((notification) => notification.payload)).toEqual(
        accepted.map(({ seq }) => ({ seq })),
      );
      expect(got.map((notification) => notification.offset)).toEqual(got.map((_, i) => i + 1));
    }
  }

  it('receives every notification on the personal channel and a topic, in order, through Redis', async () => {
    const user = aUserId('sse');
    const topic = `sse.${Date.now().toString(36)}`;
    const { received, events } = await aConnectedClient(user, topic);

    const publisher = startPublishing(user, topic);
    try {
      await waitUntil(() => publisher.accepted.length >= 50, 10_000, '50 publishes');
    } finally {
      await publisher.stop();
    }

    expect(publisher.refused).toEqual([]);
    await expectEachOnceInOrder(received, publisher.accepted, user, topic);
    expect(events.error).toEqual([]);
    expect(events.unrecovered).toEqual([]);
  }, 30_000);

  it.each([
    // Tokens of 4 s are refreshed after half of that, well before the server's expiry check.
    [
      'refreshes it before exp (a new stream with lastEventId)',
      { expiresIn: 4, tokenRefreshMarginMs: 30_000 },
      [],
    ],
    // A refresh margin below zero puts the refresh after the expiry: the server ends each stream first.
    ['gets a new one after the token_expired event', { expiresIn: 2, tokenRefreshMarginMs: -60_000 }, [4001]],
  ])(
    'keeps every notification once and in order when its token runs out: %s',
    async (_case, { expiresIn, tokenRefreshMarginMs }, closeCodes) => {
      const user = aUserId('sse-token');
      const topic = `sse.token.${Date.now().toString(36)}`;
      const getToken = jest.fn(() => Promise.resolve(aToken({ sub: user, topics: ['sse.*'], expiresIn })));
      const { received, events } = await aConnectedClient(user, topic, {
        token: undefined,
        getToken,
        tokenRefreshMarginMs,
      });
      const streamsBefore = RecordedEventSource.opened.length;

      const publisher = startPublishing(user, topic);
      try {
        await waitUntil(
          () => RecordedEventSource.opened.length >= streamsBefore + 2,
          10_000,
          'two new streams',
        );
        const acceptedAtLastStream = publisher.accepted.length;
        await waitUntil(
          () => publisher.accepted.length >= acceptedAtLastStream + 20,
          10_000,
          '20 publishes after',
        );
      } finally {
        await publisher.stop();
      }

      expect(publisher.refused).toEqual([]);
      await expectEachOnceInOrder(received, publisher.accepted, user, topic);
      expect(getToken.mock.calls.length).toBeGreaterThanOrEqual(3);
      expect([...new Set(events.disconnected.map(({ code }) => code))]).toEqual(closeCodes);
      expect(events.unrecovered).toEqual([]);
      expect(events.error).toEqual([]);
      const reopened = RecordedEventSource.opened
        .slice(streamsBefore)
        .map((url) => new URL(url).searchParams);
      expect(reopened.every((query) => query.get('lastEventId') && query.get('topics') === topic)).toBe(true);
    },
    30_000,
  );

  it('ends with every accepted notification, once and in order, after its replica is killed mid-stream', async () => {
    const user = aUserId('sse-kill');
    const topic = `sse.kill.${Date.now().toString(36)}`;
    const { client, received, events } = await aConnectedClient(user, topic);
    const connectedBefore = events.connected.length;
    const streamsBefore = RecordedEventSource.opened.length;

    const publisher = startPublishing(user, topic);
    try {
      await waitUntil(() => received.length >= 2 * 20, 10_000, '20 live notifications per channel');
      await a.kill();
      await waitUntil(() => events.disconnected.length > 0, 5000, 'the client to see its replica go');
      // The load balancer has not noticed yet: these are published while the client cannot be reached.
      const acceptedWhileCut = publisher.accepted.length;
      await waitUntil(() => publisher.accepted.length >= acceptedWhileCut + 15, 10_000, '15 more publishes');
      expect(client.state).not.toBe('connected');

      proxy.routeTo(b.port);
      await waitUntil(
        () => events.connected.length > connectedBefore,
        10_000,
        'the client to reconnect, to B',
      );
      const acceptedAtReconnect = publisher.accepted.length;
      await waitUntil(
        () => publisher.accepted.length >= acceptedAtReconnect + 20,
        10_000,
        '20 publishes after it',
      );
    } finally {
      await publisher.stop();
    }

    expect(publisher.refused).toEqual([]);
    await expectEachOnceInOrder(received, publisher.accepted, user, topic);
    expect(events.unrecovered).toEqual([]);
    expect(events.error).toEqual([]);
    expect(events.disconnected.every((event) => event.willReconnect)).toBe(true);
    // EventSource reconnected by itself, recovering through its Last-Event-ID header.
    expect(RecordedEventSource.opened).toHaveLength(streamsBefore);
  }, 60_000);
});
