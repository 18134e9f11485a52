import { ConflictException } from '@nestjs/common';
import { loadConfig } from '../config/app-config';
import { EngineUnavailableError } from '../common/errors';
import { IdempotentExecution } from './idempotent-execution';
import { MemoryIdempotencyStore } from './memory-idempotency.store';

/** The memory store, with an engine that can be made unreachable for releases (a failover). */
class FlakyStore extends MemoryIdempotencyStore {
  unreachable = false;
  releases = 0;

  override release(scope: string, key: string, attempt: string): Promise<void> {
    this.releases += 1;
    if (this.unreachable) return Promise.reject(new EngineUnavailableError('connection closed'));
    return super.release(scope, key, attempt);
  }
}

const SCOPE = 'publisher';
const KEY = 'key-1';
const BODY = { users: ['u'], type: 't' };

describe(IdempotentExecution.name, () => {
  let store: FlakyStore;
  let sut: IdempotentExecution;

  beforeEach(() => {
    jest.useFakeTimers();
    store = new FlakyStore();
    sut = new IdempotentExecution(store, loadConfig({ JWT_SECRET: 'x'.repeat(32) }));
  });
  afterEach(() => jest.useRealTimers());

  const failing = () => Promise.reject(new EngineUnavailableError('connection closed'));
  const succeeding = () => Promise.resolve('published');

  it('releases the key of a failed operation, so that the next request runs it', async () => {
    await expect(sut.run(SCOPE, KEY, BODY, failing)).rejects.toThrow(EngineUnavailableError);
    await expect(sut.run(SCOPE, KEY, BODY, succeeding)).resolves.toEqual({
      response: 'published',
      replayed: false,
    });
  });

  it('keeps releasing while the engine is unreachable, so that retries do not wait out the claim', async () => {
    store.unreachable = true;
    await expect(sut.run(SCOPE, KEY, BODY, failing)).rejects.toThrow(EngineUnavailableError);
    await expect(store.read(SCOPE, KEY)).resolves.toMatchObject({ state: 'pending' });
    store.unreachable = false;
    await jest.advanceTimersByTimeAsync(1000);
    await expect(store.read(SCOPE, KEY)).resolves.toBeUndefined();
    await expect(sut.run(SCOPE, KEY, BODY, succeeding)).resolves.toMatchObject({ replayed: false });
  });

  it('stops trying once the claim has expired by itself', async () => {
    store.unreachable = true;
    await expect(sut.run(SCOPE, KEY, BODY, failing)).rejects.toThrow(EngineUnavailableError);
    await jest.advanceTimersByTimeAsync(10_000);
    const tried = store.releases;
    expect(tried).toBeGreaterThan(30);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(store.releases).toBe(tried);
  });

  it('also releases the key when storing the response failed (a retry is answered by the engine)', async () => {
    jest.spyOn(store, 'complete').mockRejectedValueOnce(new EngineUnavailableError('connection closed'));
    await expect(sut.run(SCOPE, KEY, BODY, succeeding)).rejects.toThrow(EngineUnavailableError);
    await expect(store.read(SCOPE, KEY)).resolves.toBeUndefined();
  });

  it('answers 409 to a request that finds the key still claimed for the whole wait', async () => {
    let finish: (value: string) => void = () => undefined;
    const first = sut.run(SCOPE, KEY, BODY, () => new Promise<string>((resolve) => (finish = resolve)));
    const second = sut.run(SCOPE, KEY, BODY, succeeding);
    const outcome = expect(second).rejects.toThrow(ConflictException);
    await jest.advanceTimersByTimeAsync(5100);
    await outcome;
    finish('published');
    await expect(first).resolves.toMatchObject({ response: 'published' });
  });
});
