import type { ChannelMessage, HistoryPage } from '../broker/broker';
import { ChannelStream, notificationKey } from './channel-stream';

const CHANNEL = 'topic:t';

/** A message at `offset` of `epoch`; `id` tells two notifications at one offset apart. */
const aMessage = (offset: number, epoch = 'e1', id = `n${offset}`): ChannelMessage => ({
  channel: CHANNEL,
  offset,
  epoch,
  data: `{"id":"${id}","channel":"${CHANNEL}","offset":${offset},"epoch":"${epoch}"}`,
});

const aPage = (epoch: string, offset: number, messages: ChannelMessage[]): HistoryPage => ({
  epoch,
  offset,
  messages,
});

const offsets = (messages: ChannelMessage[]) => messages.map((m) => `${m.epoch}:${m.offset}`);

describe(ChannelStream.name, () => {
  let sut: ChannelStream;

  beforeEach(() => {
    sut = new ChannelStream(5);
  });

  describe('before its position is known', () => {
    it('holds every message, then releases those after the position, in order', () => {
      expect(sut.receive(aMessage(3))).toEqual([]);
      expect(sut.receive(aMessage(4))).toEqual([]);
      expect(sut.position).toBeUndefined();
      expect(offsets(sut.sync({ offset: 3, epoch: 'e1' }))).toEqual(['e1:4']);
      expect(sut.position).toEqual({ offset: 4, epoch: 'e1' });
    });

    it('keeps at most maxHeld held messages, dropping the oldest (history has them)', () => {
      for (let offset = 1; offset <= 7; offset++) sut.receive(aMessage(offset));
      // 1 and 2 were dropped: the gap is seen, and history will fill it.
      expect(sut.sync({ offset: 0, epoch: 'e1' })).toEqual([]);
      expect(sut.needsCatchUp).toBe(true);
      expect(sut.catchUpAfter).toBe(0);
    });
  });

  describe('in order', () => {
    beforeEach(() => sut.sync({ offset: 10, epoch: 'e1' }));

    it('dispatches the next offset at once', () => {
      expect(offsets(sut.receive(aMessage(11)))).toEqual(['e1:11']);
      expect(offsets(sut.receive(aMessage(12)))).toEqual(['e1:12']);
      expect(sut.needsCatchUp).toBe(false);
    });

    it('drops a duplicate or an older offset', () => {
      sut.receive(aMessage(11));
      expect(sut.receive(aMessage(11))).toEqual([]);
      expect(sut.receive(aMessage(9))).toEqual([]);
      expect(sut.takeReusedOffsets()).toBe(false);
    });
  });

  describe('a gap', () => {
    beforeEach(() => sut.sync({ offset: 10, epoch: 'e1' }));

    it('holds what skips offsets until history fills the gap, then dispatches all in order', () => {
      expect(sut.receive(aMessage(13))).toEqual([]);
      expect(sut.needsCatchUp).toBe(true);
      expect(sut.catchUpAfter).toBe(10);
      // More arrive while the catch-up runs: held too.
      expect(sut.receive(aMessage(14))).toEqual([]);
      const page = aPage('e1', 14, [aMessage(11), aMessage(12), aMessage(13), aMessage(14)]);
      expect(offsets(sut.caughtUp(page))).toEqual(['e1:11', 'e1:12', 'e1:13', 'e1:14']);
      expect(sut.needsCatchUp).toBe(false);
      expect(offsets(sut.receive(aMessage(15)))).toEqual(['e1:15']);
    });

    it('moves to the newest stored offset when history has more than was held', () => {
      sut.receive(aMessage(12));
      expect(offsets(sut.caughtUp(aPage('e1', 13, [aMessage(11), aMessage(12), aMessage(13)])))).toEqual([
        'e1:11',
        'e1:12',
        'e1:13',
      ]);
      expect(sut.position).toEqual({ offset: 13, epoch: 'e1' });
    });

    it('stays in need of a catch-up when the read failed (the owner retries)', () => {
      sut.receive(aMessage(12));
      expect(sut.needsCatchUp).toBe(true);
      expect(sut.receive(aMessage(13))).toEqual([]);
      expect(sut.needsCatchUp).toBe(true);
    });

    it('opens a new catch-up when a held message still leaves a gap after the page', () => {
      sut.receive(aMessage(15));
      expect(offsets(sut.caughtUp(aPage('e1', 12, [aMessage(11), aMessage(12)])))).toEqual([
        'e1:11',
        'e1:12',
      ]);
      expect(sut.needsCatchUp).toBe(true);
      expect(sut.catchUpAfter).toBe(12);
    });
  });

  describe('a new epoch', () => {
    beforeEach(() => sut.sync({ offset: 10, epoch: 'e1' }));

    it('reads the new life from its start before dispatching it', () => {
      expect(sut.receive(aMessage(2, 'e2'))).toEqual([]);
      expect(sut.needsCatchUp).toBe(true);
      expect(sut.catchUpAfter).toBe(10);
      // The first read (after 10) is of the new epoch: it says nothing about offsets 1..2 there.
      expect(sut.caughtUp(aPage('e2', 2, []))).toEqual([]);
      expect(sut.needsCatchUp).toBe(true);
      expect(sut.catchUpAfter).toBe(0);
      expect(offsets(sut.caughtUp(aPage('e2', 2, [aMessage(1, 'e2'), aMessage(2, 'e2')])))).toEqual([
        'e2:1',
        'e2:2',
      ]);
      expect(sut.position).toEqual({ offset: 2, epoch: 'e2' });
      expect(offsets(sut.receive(aMessage(3, 'e2')))).toEqual(['e2:3']);
    });

    it('starts at the oldest retained message of the new life when history was trimmed', () => {
      sut.receive(aMessage(9, 'e2'));
      sut.caughtUp(aPage('e2', 9, []));
      expect(offsets(sut.caughtUp(aPage('e2', 9, [aMessage(8, 'e2'), aMessage(9, 'e2')])))).toEqual([
        'e2:8',
        'e2:9',
      ]);
    });
  });

  describe('a notification repeated early in a new epoch (a failover lost it after a deposed master published it)', () => {
    beforeEach(() => {
      sut.sync({ offset: 0, epoch: 'e1' });
      sut.receive(aMessage(1, 'e1', 'a'));
      sut.receive(aMessage(2, 'e1', 'b'));
    });
    const intoNewEpoch = (messages: ChannelMessage[]) => {
      sut.receive(messages[messages.length - 1]);
      sut.caughtUp(aPage('e2', messages.length, []));
      return sut.caughtUp(aPage('e2', messages.length, messages));
    };

    it('is not dispatched again, and the stream moves past it', () => {
      const dispatched = intoNewEpoch([aMessage(1, 'e2', 'b'), aMessage(2, 'e2', 'c')]);
      expect(offsets(dispatched)).toEqual(['e2:2']);
      expect(sut.position).toEqual({ offset: 2, epoch: 'e2' });
      expect(offsets(sut.receive(aMessage(3, 'e2', 'a')))).toEqual([]);
      expect(offsets(sut.receive(aMessage(4, 'e2', 'd')))).toEqual(['e2:4']);
    });

    it('is dispatched when it comes after the first 16 messages of the new epoch', () => {
      const first = Array.from({ length: 16 }, (_, i) => aMessage(i + 1, 'e2', `new${i}`));
      expect(intoNewEpoch(first)).toHaveLength(16);
      expect(offsets(sut.receive(aMessage(17, 'e2', 'b')))).toEqual(['e2:17']);
    });

    it('is dispatched when it was not among the last 8 of the ended epoch', () => {
      for (let offset = 3; offset <= 10; offset++) sut.receive(aMessage(offset, 'e1'));
      expect(offsets(intoNewEpoch([aMessage(1, 'e2', 'a')]))).toEqual(['e2:1']);
    });

    it('is only a notification of the ended epoch: within one epoch the offset decides', () => {
      expect(offsets(sut.receive(aMessage(3, 'e1', 'a')))).toEqual(['e1:3']);
    });
  });

  describe('a message of a life that has already ended', () => {
    it('is dropped once a read sent after its arrival shows another epoch, instead of held forever', () => {
      sut.sync({ offset: 10, epoch: 'e1' });
      // A late e1 message, after the channel moved to e2 (an epoch ended, a failover).
      sut.receive(aMessage(11, 'e2'));
      sut.receive(aMessage(12, 'e1'));
      sut.markRead();
      expect(sut.caughtUp(aPage('e2', 11, []))).toEqual([]);
      sut.markRead();
      expect(offsets(sut.caughtUp(aPage('e2', 11, [aMessage(11, 'e2')])))).toEqual(['e2:11']);
      expect(sut.needsCatchUp).toBe(false);
      expect(offsets(sut.receive(aMessage(12, 'e2')))).toEqual(['e2:12']);
    });

    it('is dropped at sync when the position read shows another epoch', () => {
      sut.receive(aMessage(7, 'e0'));
      sut.markRead();
      expect(sut.sync({ offset: 3, epoch: 'e1' })).toEqual([]);
      expect(sut.needsCatchUp).toBe(false);
    });

    it('still holds a message of a new epoch that arrived after the read was sent', () => {
      sut.sync({ offset: 10, epoch: 'e1' });
      sut.receive(aMessage(12, 'e1'));
      sut.markRead();
      sut.receive(aMessage(1, 'e2'));
      expect(offsets(sut.caughtUp(aPage('e1', 12, [aMessage(11, 'e1'), aMessage(12, 'e1')])))).toEqual([
        'e1:11',
        'e1:12',
      ]);
      // The e2 message is newer than the read: it opens a catch-up into e2, not dropped.
      expect(sut.needsCatchUp).toBe(true);
    });
  });

  describe('reused offsets (the engine lost acknowledged writes)', () => {
    beforeEach(() => sut.sync({ offset: 10, epoch: 'e1' }));

    it('reports a different notification at the offset it dispatched last, once', () => {
      sut.receive(aMessage(11, 'e1', 'first'));
      expect(sut.receive(aMessage(11, 'e1', 'second'))).toEqual([]);
      expect(sut.takeReusedOffsets()).toBe(true);
      expect(sut.takeReusedOffsets()).toBe(false);
    });

    it('does not report the same notification arriving twice', () => {
      sut.receive(aMessage(11, 'e1', 'first'));
      sut.receive(aMessage(11, 'e1', 'first'));
      expect(sut.takeReusedOffsets()).toBe(false);
    });

    it('does not compare against a position learnt from history (no key known)', () => {
      expect(sut.receive(aMessage(10, 'e1', 'other'))).toEqual([]);
      expect(sut.takeReusedOffsets()).toBe(false);
    });

    it('reports history that is behind what was dispatched, in the same epoch', () => {
      sut.receive(aMessage(11));
      sut.resync();
      expect(sut.caughtUp(aPage('e1', 8, []))).toEqual([]);
      expect(sut.takeReusedOffsets()).toBe(true);
      expect(sut.needsCatchUp).toBe(false);
    });
  });

  describe('a resync of the subscription link', () => {
    it('asks for a catch-up even on a quiet channel, holding live messages meanwhile', () => {
      sut.sync({ offset: 10, epoch: 'e1' });
      sut.resync();
      expect(sut.needsCatchUp).toBe(true);
      expect(sut.receive(aMessage(12))).toEqual([]);
      expect(offsets(sut.caughtUp(aPage('e1', 12, [aMessage(11), aMessage(12)])))).toEqual([
        'e1:11',
        'e1:12',
      ]);
    });

    it('is nothing to do before the stream is synced (the sync reads the position anyway)', () => {
      sut.resync();
      expect(sut.needsCatchUp).toBe(false);
    });

    it('dispatches nothing from a page that nobody asked for', () => {
      sut.sync({ offset: 10, epoch: 'e1' });
      expect(sut.caughtUp(aPage('e1', 11, [aMessage(11)]))).toEqual([]);
    });
  });
});

describe(notificationKey.name, () => {
  it('tells notification ids apart and never answers 0', () => {
    expect(notificationKey(aMessage(1, 'e', 'a').data)).not.toBe(notificationKey(aMessage(1, 'e', 'b').data));
    expect(notificationKey(aMessage(1, 'e', 'a').data)).toBe(notificationKey(aMessage(2, 'x', 'a').data));
    expect(notificationKey(aMessage(1).data)).not.toBe(0);
  });
});
