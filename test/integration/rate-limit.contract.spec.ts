import type { ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';
import { MemoryThrottlerStorage } from '../../src/rate-limit/memory-throttler.storage';
import { RedisThrottlerStorage } from '../../src/rate-limit/redis-throttler.storage';
import { engineTwins } from '../support/engines';
import { waitUntil } from '../support/wait';

/**
 * One contract, both engines: @nestjs/throttler's storage as the publish rate limit uses it (a fixed
 * window of `ttl` ms, `limit` hits, then a block of `blockDuration` ms; the record's times in whole
 * seconds, rounded up) behaves the same in memory and in Redis.
 */
const LIMIT = 3;
/** The publish guard's window (and block, which defaults to the window). */
const WINDOW_MS = 1000;
const LONG_WINDOW_MS = 60_000;

let keyCounter = 0;
const aKey = () => `publish:contract-${process.pid}-${Date.now().toString(36)}-${++keyCounter}`;

describe.each(
  engineTwins<ThrottlerStorage>({
    memory: () => new MemoryThrottlerStorage(),
    redis: async (server) => new RedisThrottlerStorage(await server.client()),
  }),
)('ThrottlerStorage contract', (engine) => {
  let sut: ThrottlerStorage;
  const hit = (key: string, windowMs = WINDOW_MS, blockMs = windowMs): Promise<ThrottlerStorageRecord> =>
    sut.increment(key, windowMs, LIMIT, blockMs, 'default');
  const hits = async (key: string, count: number, windowMs?: number, blockMs?: number) => {
    const records: ThrottlerStorageRecord[] = [];
    for (let n = 0; n < count; n++) records.push(await hit(key, windowMs, blockMs));
    return records;
  };

  beforeAll(async () => {
    sut = await engine.create();
  });
  afterAll(() => engine.teardown());

  describe(engine.name, () => {
    it('counts hits within the window, with the time left in whole seconds', async () => {
      const records = await hits(aKey(), LIMIT, LONG_WINDOW_MS);
      expect(records).toEqual(
        [1, 2, 3].map((totalHits) => ({
          totalHits,
          timeToExpire: LONG_WINDOW_MS / 1000,
          isBlocked: false,
          timeToBlockExpire: 0,
        })),
      );
    });

    it('blocks the hit past the limit for blockDuration, and every hit while blocked', async () => {
      const key = aKey();
      await hits(key, LIMIT, LONG_WINDOW_MS, 30_000);
      await expect(hit(key, LONG_WINDOW_MS, 30_000)).resolves.toEqual({
        totalHits: LIMIT + 1,
        timeToExpire: LONG_WINDOW_MS / 1000,
        isBlocked: true,
        timeToBlockExpire: 30,
      });
      // While blocked the count stays at limit + 1 and both times are the block's.
      await expect(hit(key, LONG_WINDOW_MS, 30_000)).resolves.toEqual({
        totalHits: LIMIT + 1,
        timeToExpire: 30,
        isBlocked: true,
        timeToBlockExpire: 30,
      });
    });

    it('starts a fresh window once the window and its block have passed', async () => {
      const key = aKey();
      const records = await hits(key, LIMIT + 1);
      expect(records.map((r) => r.isBlocked)).toEqual([false, false, false, true]);
      expect(records[LIMIT]).toMatchObject({ timeToExpire: 1, timeToBlockExpire: 1 });
      // A real-time effect: the 1 s window and block must run out.
      const fresh = await waitUntil(
        async () => {
          const record = await hit(key);
          return !record.isBlocked && record;
        },
        3000,
        'the block to end',
        100,
      );
      expect(fresh).toEqual({ totalHits: 1, timeToExpire: 1, isBlocked: false, timeToBlockExpire: 0 });
    });

    it('counts on in the same window after a block shorter than the window, and blocks again', async () => {
      const key = aKey();
      await hits(key, LIMIT + 1, LONG_WINDOW_MS, 300);
      // A real-time effect: the 300 ms block must run out.
      const after = await waitUntil(
        async () => {
          const record = await hit(key, LONG_WINDOW_MS, 300);
          return record.totalHits > LIMIT + 1 && record;
        },
        3000,
        'a hit counted after the block',
        100,
      );
      expect(after).toEqual({
        totalHits: LIMIT + 2,
        timeToExpire: LONG_WINDOW_MS / 1000,
        isBlocked: true,
        timeToBlockExpire: 1,
      });
    });

    it('keeps keys apart: one key blocked, another still counting', async () => {
      const [spent, fresh] = [aKey(), aKey()];
      await hits(spent, LIMIT + 1, LONG_WINDOW_MS);
      await expect(hit(fresh, LONG_WINDOW_MS)).resolves.toMatchObject({ totalHits: 1, isBlocked: false });
      await expect(hit(spent, LONG_WINDOW_MS)).resolves.toMatchObject({ isBlocked: true });
    });
  });
});
