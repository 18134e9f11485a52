import { chunkBatches, deriveKey, jsonBytes, MAX_BATCH_ITEMS, planParts } from '../src/limits';
import { HeraldError } from '../src/errors';
import type { PublishBody } from '../src/wire';

const LIMIT = 65_536;
const users = (count: number, label = 'user'): string[] =>
  Array.from({ length: count }, (_, i) => `${label}-${String(i).padStart(6, '0')}-0123456789abcdef`);
const aPublish = (overrides: Partial<PublishBody> = {}): PublishBody => ({
  users: ['alice'],
  type: 'order.shipped',
  payload: { orderId: 42 },
  ...overrides,
});

describe(planParts.name, () => {
  it('keeps a body that fits as one publish under the caller key', () => {
    const body = aPublish();
    expect(planParts(body, 'key-1', LIMIT)).toEqual([{ ...body, idempotencyKey: 'key-1' }]);
  });

  it('splits 10,000 users into parts that each fit MAX_PAYLOAD_BYTES, every user once, topics once', () => {
    const everyone = users(10_000);
    const body = aPublish({ users: everyone, topics: ['orders'], broadcast: true });
    expect(jsonBytes(body)).toBeGreaterThan(LIMIT);

    const sut = planParts(body, 'key-1', LIMIT);

    expect(sut.length).toBeGreaterThan(1);
    for (const part of sut) expect(jsonBytes(part)).toBeLessThanOrEqual(LIMIT);
    expect(sut.flatMap((part) => part.users)).toEqual(everyone);
    expect(sut.filter((part) => part.topics !== undefined)).toHaveLength(1);
    expect(sut.filter((part) => part.broadcast !== undefined)).toHaveLength(1);
    expect(sut.map((part) => part.idempotencyKey)).toEqual(sut.map((_, i) => `key-1:part${i}`));
    expect(sut.every((part) => part.type === body.type && part.payload === body.payload)).toBe(true);
  });

  it('puts a user listed twice into one part only (Herald dedupes within a publish, not across)', () => {
    const everyone = users(6000);
    const sut = planParts(aPublish({ users: [...everyone, ...everyone] }), 'k', LIMIT);
    expect(sut.flatMap((part) => part.users)).toEqual(everyone);
  });

  it('plans the same parts and keys again for the same call (a retry of the whole call)', () => {
    const body = aPublish({ users: users(4000) });
    expect(planParts(body, 'k', LIMIT)).toEqual(planParts(body, 'k', LIMIT));
  });

  it('splits by count when more than 10,000 short user ids fit the bytes', () => {
    const sut = planParts(aPublish({ users: users(15_000, 'u').map((_, i) => String(i)) }), 'k', 1_000_000);
    expect(sut.map((part) => part.users?.length)).toEqual([10_000, 5000]);
  });

  it('refuses locally (413) a body that no split makes fit', () => {
    const huge = { blob: 'x'.repeat(LIMIT) };
    for (const body of [
      aPublish({ payload: huge }),
      aPublish({ users: undefined, topics: ['t'], payload: huge }),
    ]) {
      let thrown: unknown;
      try {
        planParts(body, 'k', LIMIT);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(HeraldError);
      expect(thrown).toMatchObject({ kind: 'local', status: 413, error: 'Payload Too Large' });
    }
  });
});

describe(`${planParts.name} of a body that is not JSON`, () => {
  it('refuses it locally (400) instead of throwing a bare TypeError', () => {
    const payload: Record<string, unknown> = {};
    payload.self = payload;
    expect(() => planParts(aPublish({ payload }), 'k', LIMIT)).toThrow(
      expect.objectContaining({ kind: 'local', status: 400 }) as Error,
    );
    expect(() => planParts(aPublish({ payload: { n: 1n } }), 'k', LIMIT)).toThrow(HeraldError);
  });
});

describe(deriveKey.name, () => {
  it('appends the part to a short ASCII key', () => {
    expect(deriveKey('order-42', 'part3')).toBe('order-42:part3');
  });

  it('stays ASCII and within 200 characters for a long or non-ASCII key, and differs per key', () => {
    const long = deriveKey('k'.repeat(200), 'part0');
    const unicode = deriveKey('clé-€', 'part0');
    for (const key of [long, unicode]) {
      expect(key.length).toBeLessThanOrEqual(200);
      expect(key).toMatch(/^[\x20-\x7e]+:part0$/);
    }
    expect(long).not.toBe(deriveKey('k'.repeat(199), 'part0'));
  });
});

describe(chunkBatches.name, () => {
  it('cuts at 1,000 items', () => {
    const sut = chunkBatches(Array.from({ length: 2500 }, () => 100));
    expect(sut.map((chunk) => chunk.length)).toEqual([MAX_BATCH_ITEMS, MAX_BATCH_ITEMS, 500]);
    expect(sut.flat()).toEqual(Array.from({ length: 2500 }, (_, i) => i));
  });

  it('cuts so that each body {"notifications":[…]} stays within the byte limit', () => {
    const itemBytes = Array.from({ length: 10 }, () => 300);
    const sut = chunkBatches(itemBytes, 1000);
    for (const chunk of sut) {
      const body = '{"notifications":[]}'.length + chunk.length * 300 + (chunk.length - 1);
      expect(body).toBeLessThanOrEqual(1000);
    }
    expect(sut.map((chunk) => chunk.length)).toEqual([3, 3, 3, 1]);
  });
});
