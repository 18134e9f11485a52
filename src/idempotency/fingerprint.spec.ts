import { createHash } from 'node:crypto';
import { fingerprintOf } from './idempotent-execution';

const digestOf = (json: string) => createHash('sha256').update(json).digest('base64url');

describe(fingerprintOf.name, () => {
  it('digests JSON with object keys sorted at every level', () => {
    const value = { b: 1, a: [1, { d: 'x', c: null }, [true]], e: { g: {}, f: [] } };
    expect(fingerprintOf(value)).toBe(
      digestOf('{"a":[1,{"c":null,"d":"x"},[true]],"b":1,"e":{"f":[],"g":{}}}'),
    );
  });

  it('ignores undefined properties and writes undefined array items as null, as JSON does', () => {
    expect(fingerprintOf({ a: undefined, b: [undefined] })).toBe(digestOf('{"b":[null]}'));
  });

  it('is the same for the same value whatever the key order', () => {
    expect(fingerprintOf({ x: 1, y: { p: 1, q: 2 } })).toBe(fingerprintOf({ y: { q: 2, p: 1 }, x: 1 }));
  });

  it('digests a value nested 100,000 levels deep without overflowing the stack', () => {
    const deep: unknown = JSON.parse(`${'[{"a":'.repeat(50_000)}1${'}]'.repeat(50_000)}`);
    expect(fingerprintOf(deep)).toMatch(/^[\w-]{43}$/);
  });
});
