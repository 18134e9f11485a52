import { AckBatcher } from '../src';

describe(AckBatcher.name, () => {
  let batches: string[][];
  let accepting: boolean;
  let sut: AckBatcher;

  beforeEach(() => {
    jest.useFakeTimers();
    batches = [];
    accepting = true;
    sut = new AckBatcher(
      (ids) => {
        if (accepting) batches.push(ids);
        return accepting;
      },
      200,
      3,
      5,
    );
  });
  afterEach(() => {
    sut.clear();
    jest.useRealTimers();
  });

  it('sends the ids added within the delay as one batch, the delay after the first', () => {
    sut.add('a');
    jest.advanceTimersByTime(150);
    sut.add('b');
    expect(batches).toEqual([]);
    jest.advanceTimersByTime(50);
    expect(batches).toEqual([['a', 'b']]);
    expect(sut.size).toBe(0);
  });

  it('sends a full batch at once, and the rest after the delay', () => {
    for (const id of ['a', 'b', 'c', 'd']) sut.add(id);
    expect(batches).toEqual([['a', 'b', 'c']]);
    jest.advanceTimersByTime(200);
    expect(batches).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('sends an id added twice before a flush once', () => {
    sut.add('a');
    sut.add('a');
    sut.flush();
    expect(batches).toEqual([['a']]);
  });

  it('splits a flush into batches of at most maxIds', () => {
    accepting = false;
    for (const id of ['a', 'b', 'c', 'd', 'e']) sut.add(id);
    accepting = true;
    sut.flush();
    expect(batches).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e'],
    ]);
  });

  it('keeps the ids, in order, while send cannot take them, until the next flush', () => {
    accepting = false;
    sut.add('a');
    sut.add('b');
    jest.advanceTimersByTime(1000);
    expect(sut.size).toBe(2);
    accepting = true;
    sut.flush();
    expect(batches).toEqual([['a', 'b']]);
  });

  it('puts retried ids ahead of newer ones and sends them after the retry delay', () => {
    sut.add('c');
    sut.retry(['a', 'b'], 1000);
    jest.advanceTimersByTime(999);
    expect(batches).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(batches).toEqual([['a', 'b', 'c']]);
  });

  it('keeps at most maxPending ids, dropping the oldest', () => {
    accepting = false;
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) sut.add(id);
    expect(sut.size).toBe(5);
    accepting = true;
    sut.flush();
    expect(batches.flat()).toEqual(['c', 'd', 'e', 'f', 'g']);
  });

  it('forgets everything on clear, timer included', () => {
    sut.add('a');
    sut.clear();
    jest.advanceTimersByTime(1000);
    expect(batches).toEqual([]);
    expect(sut.size).toBe(0);
  });
});
