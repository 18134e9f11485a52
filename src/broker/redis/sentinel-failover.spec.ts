import type Redis from 'ioredis';
import { EventEmitter } from 'node:events';
import { SentinelFailoverHold } from './sentinel-failover';

/** A Sentinel connection as the hold uses it: it emits what a Sentinel publishes. */
class TestSentinel extends EventEmitter {
  readonly subscribed: string[] = [];
  disconnected = false;
  subscribe(...channels: string[]): Promise<number> {
    this.subscribed.push(...channels);
    return Promise.resolve(channels.length);
  }
  psubscribe(...patterns: string[]): Promise<number> {
    this.subscribed.push(...patterns);
    return Promise.resolve(patterns.length);
  }
  disconnect(): void {
    this.disconnected = true;
  }

  announce(channel: string, message: string): void {
    if (channel.startsWith('-failover-abort-')) this.emit('pmessage', '-failover-abort-*', channel, message);
    else this.emit('message', channel, message);
  }
}

/** The command connection as the hold sees it: its status and its socket's peer. */
class TestCommands extends EventEmitter {
  status = 'ready';
  stream = { remoteAddress: '10.0.0.1', remotePort: 6379 };

  reconnectTo(remoteAddress: string, remotePort: number): void {
    this.stream = { remoteAddress, remotePort };
    this.emit('ready');
  }
}

const promoting = (master: string) => `slave 10.0.0.2:6379 10.0.0.2 6379 @ ${master} 10.0.0.1 6379`;
const switched = (master: string) => `${master} 10.0.0.1 6379 10.0.0.2 6379`;
/** Lets the hold's asynchronous check of the connection run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(SentinelFailoverHold.name, () => {
  let sentinels: TestSentinel[];
  let commands: TestCommands;
  let sut: SentinelFailoverHold;

  beforeEach(() => {
    sentinels = [new TestSentinel(), new TestSentinel()];
    commands = new TestCommands();
    sut = new SentinelFailoverHold('herald', commands as unknown as Redis, sentinels as unknown as Redis[]);
    sut.start();
  });
  /** The leader's promotion of 10.0.0.2 and its switch to it, for `master`. */
  const announceFailover = (master: string) => {
    sentinels[0].announce('+failover-state-send-slaveof-noone', promoting(master));
    sentinels[0].announce('+switch-master', switched(master));
  };

  afterEach(() => {
    sut.close();
    jest.useRealTimers();
  });

  it('subscribes to the failover events on every Sentinel', () => {
    for (const sentinel of sentinels) {
      expect(sentinel.subscribed).toEqual([
        '+failover-state-send-slaveof-noone',
        '+switch-master',
        '-failover-abort-*',
      ]);
    }
  });

  it('holds publishes from the promotion until the command connection is on the new master', async () => {
    expect(sut.reason()).toBeUndefined();
    sentinels[1].announce('+failover-state-send-slaveof-noone', promoting('herald'));
    expect(sut.reason()).toBe('a Sentinel failover of "herald" is in progress');

    sentinels[0].announce('+switch-master', switched('herald'));
    await settle();
    expect(sut.reason()).toBeDefined();

    commands.reconnectTo('::ffff:10.0.0.2', 6379);
    await settle();
    expect(sut.reason()).toBeUndefined();
  });

  it('does not hold again when the other Sentinels announce the same switch later', async () => {
    announceFailover('herald');
    commands.reconnectTo('10.0.0.2', 6379);
    await settle();
    expect(sut.reason()).toBeUndefined();
    sentinels[1].announce('+switch-master', switched('herald'));
    expect(sut.reason()).toBeUndefined();
    sentinels[1].announce('+switch-master', 'herald 10.0.0.2 6379 10.0.0.3 6379');
    expect(sut.reason()).toBeDefined();
  });

  it('holds on a switch it heard of without the promotion, and ends at once when already connected there', async () => {
    commands.stream = { remoteAddress: '10.0.0.2', remotePort: 6379 };
    sentinels[0].announce('+switch-master', switched('herald'));
    expect(sut.reason()).toBeDefined();
    await settle();
    expect(sut.reason()).toBeUndefined();
  });

  it('resolves a new master announced by host name', async () => {
    commands.stream = { remoteAddress: '127.0.0.1', remotePort: 6379 };
    sentinels[0].announce('+switch-master', 'herald 10.0.0.1 6379 localhost 6379');
    for (let waited = 0; sut.reason() !== undefined && waited < 2000; waited += 10) await sleep(10);
    expect(sut.reason()).toBeUndefined();
  });

  it('keeps holding while the connection is back on the old master', async () => {
    announceFailover('herald');
    commands.reconnectTo('10.0.0.1', 6379);
    await settle();
    expect(sut.reason()).toBeDefined();
  });

  it('ignores the failovers of other masters', async () => {
    announceFailover('other');
    await settle();
    expect(sut.reason()).toBeUndefined();
  });

  it('ends the hold when the failover is aborted', () => {
    sentinels[0].announce('+failover-state-send-slaveof-noone', promoting('herald'));
    sentinels[0].announce('-failover-abort-slave-timeout', 'master other 10.0.0.1 6379');
    expect(sut.reason()).toBeDefined();
    sentinels[0].announce('-failover-abort-slave-timeout', 'master herald 10.0.0.1 6379');
    expect(sut.reason()).toBeUndefined();
  });

  it('ends the hold after 10 s without a connection to a new master', () => {
    jest.useFakeTimers();
    sentinels[0].announce('+failover-state-send-slaveof-noone', promoting('herald'));
    jest.advanceTimersByTime(9_999);
    expect(sut.reason()).toBeDefined();
    jest.advanceTimersByTime(1);
    expect(sut.reason()).toBeUndefined();
  });

  it('disconnects from the Sentinels when closed', () => {
    sut.close();
    expect(sentinels.every((sentinel) => sentinel.disconnected)).toBe(true);
  });
});
