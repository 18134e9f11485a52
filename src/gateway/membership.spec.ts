import type { Connection } from './connection';
import { MemberList, Membership } from './membership';

const connection = {} as Connection;
const members = (list: MemberList): string[] => {
  const channels: string[] = [];
  for (let m = list.first; m; m = m.nextOnChannel) channels.push(m.channel);
  return channels;
};

describe(MemberList.name, () => {
  it('adds and removes members anywhere in the list', () => {
    const list = new MemberList();
    const [a, b, c] = ['a', 'b', 'c'].map((name) => new Membership(connection, name));
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
    const m = new Membership(connection, 'a');
    list.add(m);
    expect(other.remove(m)).toBe(false);
    expect(list.remove(m)).toBe(true);
    expect(list.remove(m)).toBe(false);
    expect(list.size).toBe(0);
  });
});
