import { WriteGroups } from './write-groups';

/** Answers each write with its double; records every call; a call given a write in `failing` rejects. */
class TestCalls {
  readonly calls: number[][] = [];
  readonly failing = new Set<number>();

  send = (writes: number[]): Promise<number[]> => {
    this.calls.push(writes);
    if (writes.some((write) => this.failing.has(write))) return Promise.reject(new Error('call failed'));
    return Promise.resolve(writes.map((write) => write * 2));
  };
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

describe(WriteGroups.name, () => {
  let calls: TestCalls;
  let sut: WriteGroups<number, number>;

  beforeEach(() => {
    calls = new TestCalls();
    sut = new WriteGroups(4, calls.send);
  });

  it('sends the writes of one turn together, in the order added, and answers each caller its own', async () => {
    const answers = await Promise.all([sut.add([1, 2]), sut.add([3]), sut.add([4])]);
    expect(calls.calls).toEqual([[1, 2, 3, 4]]);
    expect(answers).toEqual([[2, 4], [6], [8]]);
  });

  it('splits a group into calls of at most maxWrites, a caller spanning several', async () => {
    const answers = await Promise.all([sut.add(range(1, 3)), sut.add(range(4, 6)), sut.add([10])]);
    expect(calls.calls).toEqual([range(1, 4), range(5, 4), range(9, 2)]);
    expect(answers).toEqual([range(1, 3).map((n) => n * 2), range(4, 6).map((n) => n * 2), [20]]);
  });

  it('fails exactly the callers with a write in a failed call, and sends nothing again', async () => {
    calls.failing.add(6);
    const outcomes = await Promise.allSettled([
      sut.add([1, 2]),
      sut.add([3, 4, 5]),
      sut.add([6]),
      sut.add([9]),
    ]);
    expect(outcomes.map(({ status }) => status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected']);
    expect(calls.calls).toEqual([range(1, 4), [5, 6, 9]]);
  });

  it('fails a group whose send throws instead of rejecting', async () => {
    sut = new WriteGroups(4, () => {
      throw new Error('not connected');
    });
    await expect(sut.add([1])).rejects.toThrow('not connected');
  });

  it('starts a new group after a flush, and answers an empty add at once', async () => {
    await sut.add([1]);
    await expect(sut.add([])).resolves.toEqual([]);
    await sut.add([2]);
    expect(calls.calls).toEqual([[1], [2]]);
  });
});
