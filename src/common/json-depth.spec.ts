import { nestsDeeperThan } from './json-depth';

const nested = (levels: number, leaf: unknown = 1): unknown => {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { a: value };
  return value;
};

describe(nestsDeeperThan.name, () => {
  it.each([
    [1, 0, false],
    [[], 0, true],
    [[], 1, false],
    [{ a: [1, { b: 2 }] }, 3, false],
    [{ a: [1, { b: 2 }] }, 2, true],
    [[1, [2, [3]], 4], 3, false],
    [[1, [2, [3]], 4], 2, true],
  ])('%j deeper than %d: %s', (value, limit, deeper) => {
    expect(nestsDeeperThan(value, limit)).toBe(deeper);
  });

  it('accepts exactly the limit and refuses one more, for arrays and objects', () => {
    expect(nestsDeeperThan(nested(100), 100)).toBe(false);
    expect(nestsDeeperThan(nested(101), 100)).toBe(true);
    expect(nestsDeeperThan(nested(100, {}), 100)).toBe(true);
  });

  it('answers for a value nested 100,000 levels deep without overflowing the stack', () => {
    expect(nestsDeeperThan(JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`), 100)).toBe(true);
  });

  it('looks at every branch, not only the first', () => {
    expect(nestsDeeperThan({ shallow: 1, wide: [1, 2, 3], deep: nested(150) }, 100)).toBe(true);
  });
});
