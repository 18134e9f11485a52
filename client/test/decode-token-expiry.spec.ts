import { decodeTokenExpiryMs } from '../src';
import { aToken } from './support/fake-herald-server';

describe(decodeTokenExpiryMs.name, () => {
  it("reads a JWT's exp, in ms, without verifying it", () => {
    const before = Math.floor(Date.now() / 1000);

    const expiresAtMs = decodeTokenExpiryMs(aToken({ expiresInSeconds: 600 }));

    expect(expiresAtMs).toBeGreaterThanOrEqual((before + 600) * 1000);
    expect(expiresAtMs).toBeLessThanOrEqual((before + 601) * 1000);
    expect(Number.isInteger(expiresAtMs)).toBe(true);
  });

  it('decodes base64url payloads (- and _, no padding)', () => {
    // {"sub":"ü?>","exp":1700000000} encodes with '-' and '_' and needs padding in base64.
    const payload = Buffer.from(JSON.stringify({ sub: 'ü?>', exp: 1_700_000_000 })).toString('base64url');
    expect(payload).toMatch(/[-_]/);

    expect(decodeTokenExpiryMs(`e30.${payload}.signature`)).toBe(1_700_000_000_000);
  });

  it.each([
    ['an opaque token', 'opaque-token'],
    ['a payload that is not base64', 'e30.!!!.sig'],
    ['a payload that is not JSON', `e30.${Buffer.from('not json').toString('base64url')}.sig`],
    ['a JWT without exp', `e30.${Buffer.from('{"sub":"alice"}').toString('base64url')}.sig`],
    ['a non-numeric exp', `e30.${Buffer.from('{"exp":"soon"}').toString('base64url')}.sig`],
  ])('returns undefined for %s', (_description, token) => {
    expect(decodeTokenExpiryMs(token)).toBeUndefined();
  });
});
