import { MemberList, Membership } from './membership';
import type { Session } from './session';
import { OutgoingNotification } from './transport';

const session = { heldBytes: 0 } as Session;
const aNotification = (offset: number, epoch = 'e1'): OutgoingNotification =>
  new OutgoingNotification({
    channel: 'topic:t',
    offset,
    epoch,
    data: `{"offset":${offset}}`,
  });
const offsets = (notifications: OutgoingNotification[]) => notifications.map(({ message }) => message.offset);
const members = (list: MemberList): string[] => {
  const channels: string[] = [];
  for (let m = list.first; m; m = m.nextOnChannel) channels.push(m.channel);
  return channels;
};

describe(MemberList.name, () => {
  it('adds and removes members anywhere in the list', () => {
    const list = new MemberList();
    const [a, b, c] = ['a', 'b', 'c'].map((name) => new Membership(session, name));
    [a, b, c].forEach((m) => list.add(m));
    expect(members(list)).toEqual(['c', 'b', 'a']);

    expect(list.remove(b)).toBe(true);
    expect(members(list)).toEqual(['c', 'a']);
    expect(list.remove(c)).toBe(true);
    expect(list.remove(a)).toBe(true);
    expect(members(list)).toEqual([]);
    expect(list.size).toBe(0);
  });

  it('removes a membership once, and only from the list it is on', () => {
    const list = new MemberList();
    const other = new MemberList();
    const m = new Membership(session, 'a');
    list.add(m);
    expect(other.remove(m)).toBe(false);
    expect(list.remove(m)).toBe(true);
    expect(list.remove(m)).toBe(false);
    expect(list.size).toBe(0);
  });
});

describe(Membership.name, () => {
  let sut: Membership;

  beforeEach(() => {
    session.heldBytes = 0;
    sut = new Membership(session, 'topic:t');
  });
  /** What the hub writes when the membership goes live: each held one `advance` accepts, in order. */
  const release = (position: { offset: number; epoch: string }) =>
    sut.goLive(position).filter(({ message }) => sut.advance(message));

  it('holds live notifications while joining, then releases only those newer than its answer', () => {
    expect(sut.joining).toBe(true);
    [4, 5, 6].forEach((offset) => sut.hold(aNotification(offset)));
    expect(offsets(release({ offset: 5, epoch: 'e1' }))).toEqual([6]);
    expect(sut.joining).toBe(false);
    expect([sut.offset, sut.epoch]).toEqual([6, 'e1']);
    expect(session.heldBytes).toBe(0);
  });

  it('meets a replay with the live notifications that arrived during it, no gap and no duplicate', () => {
    // Subscribed with offset 10; the replay writes 8..10 while 10 and 11 arrive live.
    sut.hold(aNotification(10));
    sut.hold(aNotification(11));
    expect([8, 9, 10].map((offset) => sut.advance(aNotification(offset).message))).toEqual([
      true,
      true,
      true,
    ]);
    expect(offsets(release({ offset: 10, epoch: 'e1' }))).toEqual([11]);
  });

  it('releases every held notification of a new epoch', () => {
    sut.hold(aNotification(1, 'e2'));
    expect(offsets(release({ offset: 7, epoch: 'e1' }))).toEqual([1]);
  });

  it('counts what it holds in its session, for the slow-consumer limit, and gives it back', () => {
    sut.hold(aNotification(1));
    expect(session.heldBytes).toBe('{"offset":1}'.length);
    sut.dropHeld();
    expect(session.heldBytes).toBe(0);
  });

  it('refuses an offset the client already has, once live', () => {
    sut.goLive({ offset: 3, epoch: 'e1' });
    expect(sut.advance(aNotification(3).message)).toBe(false);
    expect(sut.advance(aNotification(4).message)).toBe(true);
    expect(sut.advance(aNotification(1, 'e2').message)).toBe(true);
  });

  it('holds again on a rejoin (a recovery of a channel it is on)', () => {
    sut.goLive({ offset: 3, epoch: 'e1' });
    sut.rejoin();
    expect(sut.joining).toBe(true);
  });
});
