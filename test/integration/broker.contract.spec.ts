import { Broker, ChannelMessage, NotificationDraft } from '../../src/broker/broker';
import { MemoryBroker } from '../../src/broker/memory.broker';
import { channelKeys } from '../../src/broker/redis/redis.broker';
import { connectRedisEngine } from '../../src/engine/redis-engine';
import { Metrics } from '../../src/metrics/metrics';
import { EngineTwin, engineTwins } from '../support/engines';
import { waitUntil } from '../support/wait';

/**
 * One contract, both engines: what the Broker doc comment promises (order, offsets, epochs, history,
 * interest) holds for the memory engine and for Redis.
 */
const HISTORY_SIZE = 5;

let channelCounter = 0;
const aChannel = (kind = 'topic') => `${kind}:contract-${process.pid}-${++channelCounter}`;
const aDraft = (n: number): NotificationDraft => ({
  id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  type: 'test.event',
  payload: { n, text: 'quote " and \\ backslash' },
  createdAt: '2026-01-01T00:00:00.000Z',
});

const twins = engineTwins<Broker>({
  memory: () => new MemoryBroker({ historySize: HISTORY_SIZE, historyTtlSeconds: 60 }),
  redis: async (server) =>
    (
      await connectRedisEngine(
        server.topology,
        { historySize: HISTORY_SIZE, historyTtlSeconds: 60 },
        new Metrics(),
      )
    ).broker,
  close: (broker) => broker.close(),
});

/** Another replica's broker on the same engine (the memory engine has one replica: itself). */
const peerOf = (engine: EngineTwin<Broker>, self: Broker): Promise<Broker> =>
  engine.name === 'memory' ? Promise.resolve(self) : engine.create();

/** Drops a channel's history as expiry (or a Redis without persistence restarting) would. */
async function loseHistory(engine: EngineTwin<Broker>, broker: Broker, channel: string): Promise<void> {
  const server = engine.server();
  if (server) {
    const keys = channelKeys(channel);
    await (await server.client()).del(keys.meta, keys.history);
  } else {
    (broker as unknown as { channels: Map<string, unknown> }).channels.delete(channel);
  }
}

describe.each(twins)('Broker contract', (engine) => {
  let sut: Broker;
  let received: ChannelMessage[];

  beforeAll(async () => {
    sut = await engine.create();
    sut.onMessage((message) => received.push(message));
  });
  beforeEach(() => {
    received = [];
  });
  afterAll(() => engine.teardown());

  describe(engine.name, () => {
    it('gives each channel offsets 1, 2, 3 within one epoch', async () => {
      const [a, b] = [aChannel(), aChannel()];
      const first = await sut.publish(aDraft(1), [a, b]);
      const second = await sut.publish(aDraft(2), [a]);
      expect(first.map((d) => [d.channel, d.offset])).toEqual([
        [a, 1],
        [b, 1],
      ]);
      expect(second[0]).toEqual({ channel: a, offset: 2, epoch: first[0].epoch });
      expect(first[0].epoch).toMatch(/^[A-Za-z0-9_-]{8}$/);
    });

    it('delivers to a subscribed replica in offset order, with the frame data made once', async () => {
      const channel = aChannel();
      await sut.subscribe(channel);
      for (let n = 1; n <= 20; n++) await sut.publish(aDraft(n), [channel]);
      const messages = await waitUntil(() => received.length >= 20 && received, 5000, '20 messages');
      expect(messages.map((m) => m.offset)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      const data = JSON.parse(messages[0].data) as Record<string, unknown>;
      expect(data).toEqual({
        id: aDraft(1).id,
        channel,
        offset: 1,
        epoch: messages[0].epoch,
        type: 'test.event',
        payload: { n: 1, text: 'quote " and \\ backslash' },
        createdAt: '2026-01-01T00:00:00.000Z',
      });
    });

    it('does not deliver a channel nobody subscribed, nor after unsubscribe', async () => {
      const channel = aChannel();
      await sut.publish(aDraft(1), [channel]);
      await sut.subscribe(channel);
      sut.unsubscribe(channel);
      await sut.subscribe(aChannel()); // a later subscription acknowledged → the unsubscribe is in effect
      await sut.publish(aDraft(2), [channel]);
      const marker = aChannel();
      await sut.subscribe(marker);
      await sut.publish(aDraft(3), [marker]);
      await waitUntil(() => received.some((m) => m.channel === marker), 5000, 'the marker message');
      expect(received.filter((m) => m.channel === channel)).toEqual([]);
    });

    it('returns history after an offset, and the current position', async () => {
      const channel = aChannel();
      for (let n = 1; n <= 4; n++) await sut.publish(aDraft(n), [channel]);
      const page = await sut.history(channel, 1, 100);
      expect(page.offset).toBe(4);
      expect(page.messages.map((m) => m.offset)).toEqual([2, 3, 4]);
      expect(JSON.parse(page.messages[0].data)).toMatchObject({
        offset: 2,
        epoch: page.epoch,
        payload: { n: 2 },
      });
      expect((await sut.history(channel, 1, 2)).messages.map((m) => m.offset)).toEqual([2, 3]);
      expect((await sut.history(channel, 4, 100)).messages).toEqual([]);
    });

    it('keeps only HISTORY_SIZE messages', async () => {
      const channel = aChannel();
      for (let n = 1; n <= HISTORY_SIZE + 3; n++) await sut.publish(aDraft(n), [channel]);
      const page = await sut.history(channel, 0, 100);
      expect(page.messages.map((m) => m.offset)).toEqual([4, 5, 6, 7, 8]);
    });

    it('starts a channel without history at offset 0 in an epoch that its first publish keeps', async () => {
      const channel = aChannel();
      const before = await sut.history(channel, 0, 10);
      expect(before).toMatchObject({ offset: 0, messages: [] });
      const [delivery] = await sut.publish(aDraft(1), [channel]);
      expect(delivery).toEqual({ channel, offset: 1, epoch: before.epoch });
    });

    it('starts a new epoch at offset 1 when the history is lost', async () => {
      const channel = aChannel();
      const [first] = await sut.publish(aDraft(1), [channel]);
      await loseHistory(engine, sut, channel);
      const [second] = await sut.publish(aDraft(2), [channel]);
      expect(second.offset).toBe(1);
      expect(second.epoch).not.toBe(first.epoch);
    });

    it('ends a life only while it is still in the given epoch', async () => {
      const channel = aChannel();
      const [first] = await sut.publish(aDraft(1), [channel]);
      await sut.publish(aDraft(2), [channel]);
      expect(await sut.endLife(channel, 'another-epoch')).toBe(false);
      expect((await sut.history(channel, 0, 10)).offset).toBe(2);
      expect(await sut.endLife(channel, first.epoch)).toBe(true);
      const [next] = await sut.publish(aDraft(3), [channel]);
      expect(next.offset).toBe(1);
      expect(next.epoch).not.toBe(first.epoch);
      expect(await sut.endLife(channel, first.epoch)).toBe(false);
    });

    it('orders concurrent publishers on one channel without gaps or duplicates', async () => {
      const channel = aChannel();
      const other = await peerOf(engine, sut);
      await sut.subscribe(channel);
      await Promise.all([
        ...Array.from({ length: 100 }, (_, n) => sut.publish(aDraft(n), [channel])),
        ...Array.from({ length: 100 }, (_, n) => other.publish(aDraft(100 + n), [channel])),
      ]);
      const messages = await waitUntil(() => received.length >= 200 && received, 5000, '200 messages');
      expect(messages.map((m) => m.offset)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    });

    it('stores a deduplicated notification id at most once per channel', async () => {
      const [a, b, c] = [aChannel(), aChannel(), aChannel()];
      const draft = aDraft(7);
      const first = await sut.publishMany([{ draft, channels: [a, b], dedupeTtlSeconds: 60 }]);
      const retry = await sut.publishMany([{ draft, channels: [a, b, c], dedupeTtlSeconds: 60 }]);
      expect(retry[0].slice(0, 2)).toEqual(first[0]);
      expect(retry[0][2]).toMatchObject({ channel: c, offset: 1 });
      expect((await sut.history(a, 0, 10)).messages).toHaveLength(1);
      const plain = await sut.publishMany([{ draft, channels: [a] }]);
      expect(plain[0][0].offset).toBe(2);
    });

    // On one Redis a batch goes out in script calls of 256 channel writes: this one spans six, and
    // its requests (3 channels each) straddle their boundaries.
    it('keeps order and offsets across a batch larger than one engine call', async () => {
      const [shared, last] = [aChannel(), aChannel()];
      await sut.subscribe(shared);
      const requests = Array.from({ length: 500 }, (_, n) => ({
        draft: aDraft(n),
        channels: [shared, aChannel(), last],
      }));
      const deliveries = await sut.publishMany(requests);
      expect(deliveries.map((request) => request.map(({ offset }) => offset))).toEqual(
        Array.from({ length: 500 }, (_, n) => [n + 1, 1, n + 1]),
      );
      expect(deliveries.map((request) => request[1].channel)).toEqual(
        requests.map(({ channels }) => channels[1]),
      );
      expect(new Set(deliveries.map((request) => request[0].epoch)).size).toBe(1);
      const ofShared = () => received.filter((m) => m.channel === shared);
      const messages = await waitUntil(() => ofShared().length >= 500 && ofShared(), 5000, '500 messages');
      expect(messages.map((m) => [m.offset, (JSON.parse(m.data) as { id: string }).id])).toEqual(
        requests.map(({ draft }, n) => [n + 1, draft.id]),
      );
      expect((await sut.history(last, 0, 100)).offset).toBe(500);
    });

    it('dedupes the writes that ask for it among those that do not, also across concurrent publishes', async () => {
      const [a, b, c] = [aChannel(), aChannel(), aChannel()];
      const [draft, other] = [aDraft(8), aDraft(9)];
      const [first, second] = await Promise.all([
        sut.publishMany([
          { draft, channels: [a, b], dedupeTtlSeconds: 60 },
          { draft: other, channels: [a] },
        ]),
        sut.publishMany([
          { draft, channels: [a, c], dedupeTtlSeconds: 60 },
          { draft, channels: [b] },
        ]),
      ]);
      const epoch = first[0][0].epoch;
      expect(first).toEqual([
        [
          { channel: a, offset: 1, epoch },
          { channel: b, offset: 1, epoch: first[0][1].epoch },
        ],
        [{ channel: a, offset: 2, epoch }],
      ]);
      expect(second[0]).toEqual([first[0][0], { channel: c, offset: 1, epoch: second[0][1].epoch }]);
      expect(second[1]).toEqual([{ channel: b, offset: 2, epoch: first[0][1].epoch }]);
      expect((await sut.history(a, 0, 10)).messages.map((m) => m.offset)).toEqual([1, 2]);
    });

    it('starts a new epoch only in the channel whose history was lost, among others published with it', async () => {
      const channels = [aChannel(), aChannel(), aChannel()];
      const before = await sut.publish(aDraft(1), channels);
      await loseHistory(engine, sut, channels[1]);
      const [after, next] = await sut.publishMany([
        { draft: aDraft(2), channels },
        { draft: aDraft(3), channels },
      ]);
      expect(after.map(({ offset }) => offset)).toEqual([2, 1, 2]);
      expect(next.map(({ offset }) => offset)).toEqual([3, 2, 3]);
      expect(after[0].epoch).toBe(before[0].epoch);
      expect(after[2].epoch).toBe(before[2].epoch);
      expect(after[1].epoch).not.toBe(before[1].epoch);
      expect(next.map(({ epoch }) => epoch)).toEqual(after.map(({ epoch }) => epoch));
      const page = await sut.history(channels[1], 0, 10);
      expect(page).toMatchObject({ epoch: after[1].epoch, offset: 2 });
      expect(page.messages.map((m) => (JSON.parse(m.data) as { epoch: string }).epoch)).toEqual([
        after[1].epoch,
        after[1].epoch,
      ]);
    });

    // The memory engine has no link to lose.
    (engine.name === 'memory' ? it.skip : it)(
      'reports a resync that covers a channel once its cut subscription link is back, and delivers again',
      async () => {
        const channel = aChannel();
        await sut.subscribe(channel);
        const peer = await peerOf(engine, sut);
        const resyncs: boolean[] = [];
        sut.onResync((affects) => resyncs.push(affects === undefined || affects(channel)));
        await engine.server()?.killSubscriptions();
        await waitUntil(() => resyncs.includes(true), 10_000, 'a resync that covers the channel');
        await peer.publish(aDraft(1), [channel]);
        await waitUntil(() => received.some((message) => message.channel === channel), 5000, 'a delivery');
        sut.unsubscribe(channel);
      },
    );

    it('is healthy end to end', async () => {
      await expect(sut.isHealthy()).resolves.toBe(true);
    });
  });
});
