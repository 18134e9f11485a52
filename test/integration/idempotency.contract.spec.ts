import { ClaimResult, IdempotencyRecord, IdempotencyStore } from '../../src/idempotency/idempotency.store';
import { MemoryIdempotencyStore } from '../../src/idempotency/memory-idempotency.store';
import { RedisIdempotencyStore } from '../../src/idempotency/redis-idempotency.store';
import { engineTwins } from '../support/engines';
import { sleep, waitUntil } from '../support/wait';

/**
 * One contract, both engines: what the IdempotencyStore doc comment promises (an exclusive claim, the
 * pending record seen by later claimers, completion, release, the pending TTL, scopes) holds for the
 * memory engine and for Redis.
 */
const PENDING_TTL_SECONDS = 10;
const DONE_TTL_SECONDS = 60;

let keyCounter = 0;
/** A key no other test uses (the Redis twin may run on a shared server). */
const aKey = () => `contract-${process.pid}-${Date.now().toString(36)}-${++keyCounter}`;
const aScope = (label = 'publisher') => `${label}-${++keyCounter}`;
/** The attempt of a claim that must have been granted. */
const attemptOf = (claim: ClaimResult): string => {
  if (!claim.claimed) throw new Error(`the key was not free: ${JSON.stringify(claim.record)}`);
  return claim.attempt;
};
const aDoneRecord = (fingerprint: string, response: unknown = { id: 'n-1', deliveries: [] }) =>
  ({ state: 'done', fingerprint, response }) satisfies IdempotencyRecord;

describe.each(
  engineTwins<IdempotencyStore>({
    memory: () => new MemoryIdempotencyStore(),
    redis: async (server) => new RedisIdempotencyStore(await server.client()),
  }),
)(`${IdempotencyStore.name} contract`, (engine) => {
  let sut: IdempotencyStore;

  beforeAll(async () => {
    sut = await engine.create();
  });
  afterAll(() => engine.teardown());

  describe(engine.name, () => {
    it('gives a free key to exactly one of many concurrent claimers', async () => {
      const [scope, key] = [aScope(), aKey()];
      const claims = await Promise.all(
        Array.from({ length: 20 }, (_, n) => sut.claim(scope, key, `fingerprint-${n}`, PENDING_TTL_SECONDS)),
      );
      const winners = claims.flatMap((claim, n) => (claim.claimed ? [n] : []));
      expect(winners).toHaveLength(1);
      const winnerRecord = {
        state: 'pending',
        fingerprint: `fingerprint-${winners[0]}`,
        attempt: attemptOf(claims[winners[0]]),
      };
      for (const claim of claims.filter((c) => !c.claimed)) {
        expect(claim).toEqual({ claimed: false, record: winnerRecord });
      }
    });

    it('shows a later claimer the pending record, with the first claimer’s fingerprint', async () => {
      const [scope, key] = [aScope(), aKey()];
      const first = await sut.claim(scope, key, 'first', PENDING_TTL_SECONDS);
      expect(first).toEqual({ claimed: true, attempt: expect.any(String) as unknown });
      const pending = { state: 'pending', fingerprint: 'first', attempt: attemptOf(first) };
      await expect(sut.claim(scope, key, 'second', PENDING_TTL_SECONDS)).resolves.toEqual({
        claimed: false,
        record: pending,
      });
      await expect(sut.read(scope, key)).resolves.toEqual(pending);
    });

    it('stores the completed response for later claimers and readers', async () => {
      const [scope, key] = [aScope(), aKey()];
      await sut.claim(scope, key, 'fp', PENDING_TTL_SECONDS);
      const done = aDoneRecord('fp', { id: 'n-7', deliveries: [{ channel: 'user:a', offset: 3 }] });
      await sut.complete(scope, key, done, DONE_TTL_SECONDS);
      await expect(sut.claim(scope, key, 'fp', PENDING_TTL_SECONDS)).resolves.toEqual({
        claimed: false,
        record: done,
      });
      await expect(sut.read(scope, key)).resolves.toEqual(done);
    });

    it('frees a released key for the next claimer', async () => {
      const [scope, key] = [aScope(), aKey()];
      await sut.release(scope, key, attemptOf(await sut.claim(scope, key, 'failed', PENDING_TTL_SECONDS)));
      await expect(sut.read(scope, key)).resolves.toBeUndefined();
      const retry = await sut.claim(scope, key, 'retry', PENDING_TTL_SECONDS);
      await expect(sut.read(scope, key)).resolves.toEqual({
        state: 'pending',
        fingerprint: 'retry',
        attempt: attemptOf(retry),
      });
    });

    it('gives up only the releasing attempt’s claim: a late release leaves a later claim alone', async () => {
      const [scope, key] = [aScope(), aKey()];
      const stale = attemptOf(await sut.claim(scope, key, 'fp', 1));
      await waitUntil(
        async () => (await sut.read(scope, key)) === undefined,
        3000,
        'the pending record to expire',
      );
      const later = attemptOf(await sut.claim(scope, key, 'fp', PENDING_TTL_SECONDS));
      expect(later).not.toBe(stale);
      await sut.release(scope, key, stale);
      await expect(sut.read(scope, key)).resolves.toEqual({
        state: 'pending',
        fingerprint: 'fp',
        attempt: later,
      });
    });

    it('leaves a completed record alone when its attempt releases it late', async () => {
      const [scope, key] = [aScope(), aKey()];
      const attempt = attemptOf(await sut.claim(scope, key, 'fp', PENDING_TTL_SECONDS));
      await sut.complete(scope, key, aDoneRecord('fp'), DONE_TTL_SECONDS);
      await sut.release(scope, key, attempt);
      await expect(sut.read(scope, key)).resolves.toEqual(aDoneRecord('fp'));
    });

    it('frees a pending key whose holder never completes once the pending TTL passes', async () => {
      const [scope, key] = [aScope(), aKey()];
      await sut.claim(scope, key, 'crashed', 1);
      await expect(sut.claim(scope, key, 'retry', 1)).resolves.toMatchObject({ claimed: false });
      // A real-time effect: the 1 s TTL must run out.
      await waitUntil(
        async () => (await sut.read(scope, key)) === undefined,
        3000,
        'the pending record to expire',
      );
      await expect(sut.claim(scope, key, 'retry', PENDING_TTL_SECONDS)).resolves.toMatchObject({
        claimed: true,
      });
    });

    it('keeps a completed record for its own TTL, not the pending one', async () => {
      const [scope, key] = [aScope(), aKey()];
      await sut.claim(scope, key, 'fp', 1);
      await sut.complete(scope, key, aDoneRecord('fp'), DONE_TTL_SECONDS);
      // A real-time effect: past the 1 s pending TTL, the completed record must still be there.
      await sleep(1200);
      await expect(sut.read(scope, key)).resolves.toEqual(aDoneRecord('fp'));
    });

    it('keeps scopes apart: one key under two API keys is two records', async () => {
      const key = aKey();
      const [a, b] = [aScope('a'), aScope('b')];
      const fromA = await sut.claim(a, key, 'from-a', PENDING_TTL_SECONDS);
      const fromB = await sut.claim(b, key, 'from-b', PENDING_TTL_SECONDS);
      expect([fromA.claimed, fromB.claimed]).toEqual([true, true]);
      await sut.complete(a, key, aDoneRecord('from-a'), DONE_TTL_SECONDS);
      await sut.release(b, key, attemptOf(fromB));
      await expect(sut.read(a, key)).resolves.toEqual(aDoneRecord('from-a'));
      await expect(sut.read(b, key)).resolves.toBeUndefined();
    });

    it('reads nothing under a key never claimed', async () => {
      await expect(sut.read(aScope(), aKey())).resolves.toBeUndefined();
    });
  });
});
