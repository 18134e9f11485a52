import jwt from 'jsonwebtoken';
import { ClientTokenVerifier } from '../auth/client-token';
import { MemoryBroker } from '../broker/memory.broker';
import { Disconnect } from '../common/close-codes';
import { loadConfig } from '../config/app-config';
import { Logs } from '../logging/logging.module';
import { Metrics } from '../metrics/metrics';
import { MemoryPresenceRegistry } from '../presence/memory-presence.registry';
import { Acknowledgements } from '../push/acknowledgements';
import { MemoryPushLedger } from '../push/memory-push-ledger';
import { DiscardedDeliveryEvents } from '../webhooks/delivery-events';
import { ChannelHub } from './channel-hub';
import { Session } from './session';
import { SessionRegistry } from './session-registry';
import { MAX_TOPICS_PER_SESSION, SessionService } from './session.service';
import { FakeTransport } from '../../test/support/fake-transport';

const SECRET = 'unit-test-secret-0123456789abcdef';
const config = loadConfig({ JWT_SECRET: SECRET, LOG_LEVEL: 'silent', WS_MAX_BUFFERED_BYTES: '4096' });
const aToken = (sub: string, topics?: string[]) =>
  jwt.sign({ sub, exp: Math.floor(Date.now() / 1000) + 60, ...(topics ? { topics } : {}) }, SECRET);

/** Polls until `check` holds, for at most a second. */
const waitFor = async (check: () => Promise<boolean>) => {
  const deadline = Date.now() + 1000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met within 1 s');
    await new Promise((resolve) => setImmediate(resolve));
  }
};

/** Resolves once the session's queued requests (and what they started) have run. */
const settled = async (session: Session) => {
  await session.enqueue(() => undefined);
  await new Promise((resolve) => setImmediate(resolve));
};

/**
 * The session rules, whatever the transport, on the embedded engine (a real MemoryBroker) with a fake
 * transport: what a session starts on, what it may join, recovery and its replay pace, refresh, and
 * what its end leaves behind.
 */
describe(SessionService.name, () => {
  let broker: MemoryBroker;
  let hub: ChannelHub;
  let registry: SessionRegistry;
  let tokens: ClientTokenVerifier;
  let ledger: MemoryPushLedger;
  let sut: SessionService;
  let userCount = 0;

  beforeEach(async () => {
    const metrics = new Metrics();
    broker = new MemoryBroker({ historySize: 100, historyTtlSeconds: 60 });
    hub = new ChannelHub(broker, config, metrics);
    await hub.onModuleInit();
    registry = new SessionRegistry(new MemoryPresenceRegistry(), config, metrics);
    tokens = new ClientTokenVerifier(config);
    ledger = new MemoryPushLedger();
    const acknowledgements = new Acknowledgements(ledger, new DiscardedDeliveryEvents(), metrics);
    sut = new SessionService(hub, registry, tokens, config, metrics, acknowledgements, new Logs(config));
  });
  afterEach(async () => {
    hub.onApplicationShutdown();
    await broker.close();
  });

  const start = async (
    options: {
      topics?: string[];
      tokenTopics?: string[];
      kind?: 'websocket' | 'sse';
      recover?: Map<string, { offset: number; epoch: string }>;
    } = {},
  ) => {
    const user = `user-${++userCount}`;
    const transport = new FakeTransport(options.kind);
    const session = sut.start({
      connectionId: `c-${userCount}`,
      identity: await tokens.verify(aToken(user, options.tokenTopics ?? ['orders.*'])),
      transport,
      topics: options.topics,
      recover: options.recover,
      announceAll: options.kind === 'sse',
    });
    await settled(session);
    return { user, transport, session };
  };

  const publish = (channels: string[], n: number) =>
    broker.publish(
      { id: `id-${n}`, type: 't', payload: { n }, createdAt: '2026-01-01T00:00:00.000Z' },
      channels,
    );

  describe('start', () => {
    it('puts a WebSocket session on its personal and the broadcast channel, then sends ready alone', async () => {
      const { user, transport } = await start();
      expect(transport.events.map((e) => e.event)).toEqual(['ready']);
      expect(transport.of('ready')[0]).toMatchObject({
        userId: user,
        channels: [`user:${user}`, 'broadcast'],
      });
      await publish([`user:${user}`], 1);
      await publish(['broadcast'], 2);
      expect(transport.of('notification').map((n) => n.channel)).toEqual([`user:${user}`, 'broadcast']);
      expect(registry.count).toBe(1);
    });

    it('answers every channel of an SSE session, topics included, after ready', async () => {
      const { user, transport } = await start({ kind: 'sse', topics: ['orders.1'] });
      expect(transport.events.map((e) => [e.event, e.data.channel])).toEqual([
        ['ready', undefined],
        ['subscribed', `user:${user}`],
        ['subscribed', 'broadcast'],
        ['subscribed', 'topic:orders.1'],
      ]);
    });

    it('recovers a channel from a position at start: subscribed, the replay, then live', async () => {
      const user = `user-${userCount + 1}`;
      const [first] = await publish([`user:${user}`], 1);
      await publish([`user:${user}`], 2);
      const { transport } = await start({
        recover: new Map([[`user:${user}`, { offset: 1, epoch: first.epoch }]]),
      });
      await publish([`user:${user}`], 3);
      expect(transport.events.map((e) => [e.event, e.data.offset])).toEqual([
        ['ready', undefined],
        ['subscribed', 2],
        ['notification', 2],
        ['notification', 3],
      ]);
      expect(transport.of('subscribed')[0].recovered).toBe(true);
    });
  });

  describe('ack', () => {
    it('marks the acked notification delivered for the session’s user, without answering', async () => {
      const { session, transport } = await start();
      const id = '0b0e7f8c-6c59-4a43-9d5e-2f1b5a7c9e11';
      const content = {
        id,
        type: 't',
        payload: null,
        createdAt: new Date().toISOString(),
        title: 'T',
        body: null,
        url: null,
        icon: null,
        urgency: 'normal' as const,
      };
      await ledger.record(content, [session.userId, 'someone-else'], 'pending', 60);
      const before = transport.events.length;
      sut.handle(session, { event: 'ack', data: { ids: [id] } });
      await waitFor(async () => (await ledger.load(id, session.userId))?.record.state === 'delivered');
      await settled(session);
      expect(transport.events.length).toBe(before);
      await expect(ledger.load(id, 'someone-else')).resolves.toMatchObject({ record: { state: 'pending' } });
    });
  });

  describe('subscribe', () => {
    it.each([
      ['topic:a b', 'bad_request'],
      ['room:x', 'bad_request'],
      ['topic:invoices.1', 'forbidden'],
      ['user:someone-else', 'forbidden'],
    ])('refuses %s with %s, naming the channel, and stays open', async (channel, code) => {
      const { session, transport } = await start();
      sut.handle(session, { event: 'subscribe', data: { channel } });
      await settled(session);
      expect(transport.of('error')).toEqual([expect.objectContaining({ code, channel })]);
      expect(transport.open).toBe(true);
    });

    it(`allows at most ${MAX_TOPICS_PER_SESSION} topics`, async () => {
      const { session, transport } = await start({ tokenTopics: ['*'] });
      for (let i = 0; i <= MAX_TOPICS_PER_SESSION; i++) {
        sut.handle(session, { event: 'subscribe', data: { channel: `topic:t${i}` } });
      }
      await settled(session);
      expect(transport.of('subscribed')).toHaveLength(MAX_TOPICS_PER_SESSION);
      expect(transport.of('error')).toEqual([
        expect.objectContaining({
          code: 'too_many_subscriptions',
          channel: `topic:t${MAX_TOPICS_PER_SESSION}`,
        }),
      ]);
      // Re-joining one it is on does not count as another.
      sut.handle(session, { event: 'subscribe', data: { channel: 'topic:t0' } });
      await settled(session);
      expect(transport.of('subscribed')).toHaveLength(MAX_TOPICS_PER_SESSION + 1);
    });

    it('answers a plain subscribe of a channel it is on with its position, changing nothing', async () => {
      const { user, session, transport } = await start();
      await publish([`user:${user}`], 1);
      sut.handle(session, { event: 'subscribe', data: { channel: `user:${user}` } });
      await settled(session);
      expect(transport.of('subscribed')).toEqual([
        expect.objectContaining({ channel: `user:${user}`, offset: 1, recovered: false }),
      ]);
    });

    it('answers recovered: false without a replay when the epoch is not the channel’s', async () => {
      const { session, transport } = await start();
      await publish(['topic:orders.2'], 1);
      sut.handle(session, {
        event: 'subscribe',
        data: { channel: 'topic:orders.2', offset: 0, epoch: 'stale' },
      });
      await settled(session);
      expect(transport.of('subscribed')).toEqual([expect.objectContaining({ offset: 1, recovered: false })]);
      expect(transport.of('notification')).toEqual([]);
    });

    it('leaves a topic on unsubscribe, and refuses to leave a personal or broadcast channel', async () => {
      const { user, session, transport } = await start();
      sut.handle(session, { event: 'subscribe', data: { channel: 'topic:orders.3' } });
      sut.handle(session, { event: 'unsubscribe', data: { channel: 'topic:orders.3' } });
      sut.handle(session, { event: 'unsubscribe', data: { channel: `user:${user}` } });
      await settled(session);
      await publish(['topic:orders.3'], 1);
      expect(transport.of('unsubscribed')).toEqual([{ channel: 'topic:orders.3' }]);
      expect(transport.of('error')).toEqual([
        expect.objectContaining({ code: 'bad_request', channel: `user:${user}` }),
      ]);
      expect(transport.of('notification')).toEqual([]);
    });
  });

  describe('recovery replay', () => {
    it('waits for the socket to drain, and holds live notifications behind the replay', async () => {
      const { session, transport } = await start();
      const [first] = await publish(['topic:orders.4'], 1);
      for (let n = 2; n <= 5; n++) await publish(['topic:orders.4'], n);
      transport.full = true;
      sut.handle(session, {
        event: 'subscribe',
        data: { channel: 'topic:orders.4', offset: 0, epoch: first.epoch },
      });
      await settled(session);
      // One notification went out and filled the buffer; the replay waits for the client to read.
      expect(transport.of('notification').map((n) => n.offset)).toEqual([1]);
      await publish(['topic:orders.4'], 6);
      transport.drain();
      await settled(session);
      expect(transport.of('notification').map((n) => n.offset)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(transport.closedWith).toBeUndefined();
    });

    it('cuts a session whose held live notifications pass WS_MAX_BUFFERED_BYTES', async () => {
      const { session, transport } = await start();
      const [first] = await publish(['topic:orders.5'], 1);
      transport.full = true;
      sut.handle(session, {
        event: 'subscribe',
        data: { channel: 'topic:orders.5', offset: 0, epoch: first.epoch },
      });
      await settled(session);
      const big = 'x'.repeat(1000);
      for (let n = 0; n < 5; n++) {
        await broker.publish(
          { id: `big-${n}`, type: 't', payload: big, createdAt: '2026-01-01T00:00:00.000Z' },
          ['topic:orders.5'],
        );
      }
      expect(transport.closedWith).toBe(Disconnect.SlowConsumer);
    });
  });

  describe('the position a written notification stands at (what an SSE event id names)', () => {
    it('moves with each write when held notifications go out after a replay', async () => {
      const { session, transport } = await start();
      const [first] = await publish(['topic:orders.6'], 1);
      await publish(['topic:orders.6'], 2);
      transport.full = true;
      sut.handle(session, {
        event: 'subscribe',
        data: { channel: 'topic:orders.6', offset: 0, epoch: first.epoch },
      });
      await settled(session);
      for (let n = 3; n <= 5; n++) await publish(['topic:orders.6'], n);
      transport.drain();
      await settled(session);
      expect(transport.of('notification').map((n) => n.offset)).toEqual([1, 2, 3, 4, 5]);
      expect(transport.positionsAtWrite).toEqual([1, 2, 3, 4, 5]);
    });
  });

  describe('a second recovery of a channel while its first replay waits', () => {
    it('stops the first replay: the second one and then live go out in order, once', async () => {
      const { session, transport } = await start();
      const [first] = await publish(['topic:orders.7'], 1);
      for (let n = 2; n <= 4; n++) await publish(['topic:orders.7'], n);
      transport.full = true;
      sut.handle(session, {
        event: 'subscribe',
        data: { channel: 'topic:orders.7', offset: 0, epoch: first.epoch },
      });
      await settled(session);
      sut.handle(session, {
        event: 'subscribe',
        data: { channel: 'topic:orders.7', offset: 2, epoch: first.epoch },
      });
      await settled(session);
      await publish(['topic:orders.7'], 5);
      transport.drain();
      await settled(session);
      const afterSecond = transport.events.slice(
        transport.events.findIndex((e, i) => e.event === 'subscribed' && i > 1),
      );
      expect(afterSecond.filter((e) => e.event === 'notification').map((e) => e.data.offset)).toEqual([
        3, 4, 5,
      ]);
    });
  });

  describe('a recovery whose history read fails', () => {
    it('ends an SSE session (it cannot be told which channel failed), so its reconnect recovers', async () => {
      const user = `user-${userCount + 1}`;
      const [first] = await publish([`user:${user}`], 1);
      jest.spyOn(broker, 'history').mockRejectedValueOnce(new Error('engine down'));
      const { transport } = await start({
        kind: 'sse',
        recover: new Map([[`user:${user}`, { offset: 0, epoch: first.epoch }]]),
      });
      expect(transport.closedWith).toBe(Disconnect.EngineUnavailable);
      expect(transport.of('notification')).toEqual([]);
    });

    it('keeps a WebSocket session on the channel, live from where it stood, with an error frame', async () => {
      const { user, session, transport } = await start();
      await publish([`user:${user}`], 1);
      jest.spyOn(broker, 'history').mockRejectedValueOnce(new Error('engine down'));
      sut.handle(session, { event: 'subscribe', data: { channel: `user:${user}`, offset: 0, epoch: 'x' } });
      await settled(session);
      await publish([`user:${user}`], 2);
      expect(transport.of('error')).toEqual([
        expect.objectContaining({ code: 'internal', channel: `user:${user}` }),
      ]);
      expect(transport.of('notification').map((n) => n.offset)).toEqual([1, 2]);
    });
  });

  describe('refresh', () => {
    it('replaces the token of the same user and answers its exp', async () => {
      const { user, session, transport } = await start();
      sut.handle(session, { event: 'refresh', data: { token: aToken(user) } });
      sut.handle(session, { event: 'refresh', data: { token: aToken('someone-else') } });
      sut.handle(session, { event: 'refresh', data: { token: 'garbage' } });
      await settled(session);
      expect(transport.events.slice(1).map((e) => [e.event, e.data.code])).toEqual([
        ['refreshed', undefined],
        ['error', 'forbidden'],
        ['error', 'bad_request'],
      ]);
    });
  });

  it('takes an ended session off its channels and out of the registry', async () => {
    const { user, session, transport } = await start();
    sut.ended(session);
    await publish([`user:${user}`], 1);
    expect(transport.of('notification')).toEqual([]);
    expect(registry.count).toBe(0);
    expect(hub.channelCount).toBe(1);
  });

  it('answers ping with pong', async () => {
    const { session, transport } = await start();
    sut.handle(session, { event: 'ping', data: {} });
    await settled(session);
    expect(transport.of('pong')).toEqual([{}]);
  });
});
