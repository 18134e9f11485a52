import { ReconnectBackoff } from '../src';

describe(ReconnectBackoff.name, () => {
  const baseMs = 500;
  const capMs = 30_000;

  it('draws retry n uniformly from [0, min(cap, base·2^n)]', () => {
    const highest = new ReconnectBackoff(baseMs, capMs, () => 0.999_999);
    const lowest = new ReconnectBackoff(baseMs, capMs, () => 0);

    for (let retry = 0; retry < 10; retry++) {
      const ceilingMs = Math.min(capMs, baseMs * 2 ** retry);
      const delayMs = highest.nextDelayMs();
      expect(delayMs).toBeLessThanOrEqual(ceilingMs);
      expect(delayMs).toBeGreaterThan(ceilingMs * 0.999);
      expect(lowest.nextDelayMs()).toBe(0);
    }
  });

  it('stays within the bounds with Math.random', () => {
    const sut = new ReconnectBackoff(baseMs, capMs);

    for (let retry = 0; retry < 50; retry++) {
      const delayMs = sut.nextDelayMs();
      expect(delayMs).toBeGreaterThanOrEqual(0);
      expect(delayMs).toBeLessThanOrEqual(Math.min(capMs, baseMs * 2 ** retry));
    }
  });

  it('never exceeds the cap, however many retries', () => {
    const sut = new ReconnectBackoff(baseMs, capMs, () => 0.999_999);

    const delays = Array.from({ length: 2000 }, () => sut.nextDelayMs());

    expect(Math.max(...delays)).toBeLessThanOrEqual(capMs);
    expect(delays.at(-1)).toBeGreaterThan(capMs * 0.999);
  });

  it('starts again from base after reset', () => {
    const sut = new ReconnectBackoff(baseMs, capMs, () => 0.999_999);
    for (let retry = 0; retry < 6; retry++) sut.nextDelayMs();

    sut.reset();

    expect(sut.nextDelayMs()).toBeLessThanOrEqual(baseMs);
    expect(sut.nextDelayMs()).toBeGreaterThan(baseMs);
  });
});
