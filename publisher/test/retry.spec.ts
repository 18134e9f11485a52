import { DEFAULT_RETRY, parseRetryAfter, retryDelayMs } from '../src/retry';

describe(retryDelayMs.name, () => {
  const policy = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 1000 };

  it('waits a random time below base·2ⁿ⁻¹, capped at maxDelayMs, without Retry-After', () => {
    expect(retryDelayMs(1, undefined, policy, () => 0.999)).toBe(99);
    expect(retryDelayMs(3, undefined, policy, () => 0.999)).toBe(399);
    expect(retryDelayMs(10, undefined, policy, () => 0.999)).toBe(999);
    expect(retryDelayMs(10, undefined, policy, () => 0)).toBe(0);
  });

  it('never waits less than Retry-After, and at most 10 % more', () => {
    expect(retryDelayMs(1, 1000, policy, () => 0)).toBe(1000);
    expect(retryDelayMs(1, 1000, policy, () => 0.999)).toBe(1099);
    expect(retryDelayMs(1, 30_000, policy, () => 0)).toBe(30_000);
  });
});

describe(parseRetryAfter.name, () => {
  it('reads delta-seconds and HTTP dates; ignores what it cannot read', () => {
    const now = Date.parse('2026-12-01T10:00:00Z');
    expect(parseRetryAfter('1', now)).toBe(1000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Tue, 01 Dec 2026 10:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Tue, 01 Dec 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});
