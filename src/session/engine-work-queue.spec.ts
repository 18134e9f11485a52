import { EngineWorkQueue } from './engine-work-queue';

const OPTIONS = { concurrency: 2, initialBackoffMs: 100, maxBackoffMs: 400, logIntervalMs: 1000 };

/** A task that stays running until settled from the test. */
function aControlledTask() {
  let settle: { resolve: () => void; reject: (error: Error) => void } | undefined;
  const task = jest.fn(
    () =>
      new Promise<void>((resolve, reject) => {
        settle = { resolve, reject };
      }),
  );
  return {
    task,
    resolve: () => settle?.resolve(),
    reject: (message = 'LOADING') => settle?.reject(new Error(message)),
  };
}

/** Lets settled promises run their callbacks. */
const flush = () => jest.advanceTimersByTimeAsync(0);

describe(EngineWorkQueue.name, () => {
  const logger = { warn: jest.fn<void, [string]>(), log: jest.fn<void, [string]>() };
  let sut: EngineWorkQueue;

  beforeEach(() => {
    jest.useFakeTimers();
    logger.warn.mockClear();
    logger.log.mockClear();
    sut = new EngineWorkQueue('engine', logger, OPTIONS);
  });
  afterEach(() => {
    sut.clear();
    jest.useRealTimers();
  });

  it('runs at most `concurrency` tasks at once, the next as one finishes', async () => {
    const tasks = [aControlledTask(), aControlledTask(), aControlledTask()];
    tasks.forEach(({ task }, i) => sut.schedule(`c${i}`, task));
    expect(tasks.map(({ task }) => task.mock.calls.length)).toEqual([1, 1, 0]);
    tasks[0].resolve();
    await flush();
    expect(tasks[2].task).toHaveBeenCalledTimes(1);
    expect(sut.size).toBe(2);
  });

  it('queues a key once however often it is scheduled', () => {
    const blocker = aControlledTask();
    sut = new EngineWorkQueue('engine', logger, { ...OPTIONS, concurrency: 1 });
    sut.schedule('busy', blocker.task);
    const task = jest.fn(() => Promise.resolve());
    sut.schedule('c', task);
    sut.schedule('c', task);
    expect(sut.size).toBe(2);
  });

  it('pauses everything for one backoff after a failure; the failed task waits at the back', async () => {
    const failing = aControlledTask();
    const other = jest.fn(() => Promise.resolve());
    sut = new EngineWorkQueue('engine', logger, { ...OPTIONS, concurrency: 1 });
    sut.schedule('a', failing.task);
    sut.schedule('b', other);
    failing.reject();
    await flush();
    expect(sut.paused).toBe(true);
    await jest.advanceTimersByTimeAsync(99);
    expect(other).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1);
    expect(other).toHaveBeenCalledTimes(1);
    expect(failing.task).toHaveBeenCalledTimes(2);
  });

  it('doubles the backoff per failed round, up to the max', async () => {
    const start = Date.now();
    const calledAt: number[] = [];
    const failing = jest.fn(() => {
      calledAt.push(Date.now() - start);
      return Promise.reject(new Error('LOADING'));
    });
    sut.schedule('a', failing);
    await jest.advanceTimersByTimeAsync(2000);
    expect(calledAt).toEqual([0, 100, 300, 700, 1100, 1500, 1900]);
  });

  it('counts the failures of many tasks as one paused round, and logs them at most once per interval', async () => {
    const tasks = Array.from({ length: 50 }, () => aControlledTask());
    sut = new EngineWorkQueue('engine', logger, { ...OPTIONS, concurrency: 50 });
    tasks.forEach(({ task }, i) => sut.schedule(`c${i}`, task));
    tasks.forEach((t) => t.reject());
    await flush();
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0][0]).toContain('1 attempts failed (LOADING)');
    expect(logger.warn.mock.calls[0][0]).toContain('50 waiting, retrying in 100 ms');
    for (let round = 0; round < 5; round++) {
      await jest.advanceTimersByTimeAsync(400);
      tasks.forEach((t) => t.reject());
      await flush();
    }
    // 2 s of failures: the first line and one a second.
    expect(logger.warn.mock.calls.length).toBeLessThanOrEqual(3);
  });

  it('logs once when the engine answers again, and starts over from the initial backoff', async () => {
    const task = aControlledTask();
    sut.schedule('a', task.task);
    task.reject();
    await jest.advanceTimersByTimeAsync(100);
    task.resolve();
    await flush();
    expect(logger.log).toHaveBeenCalledWith('engine: engine answers again after 1 failed attempts');
    sut.schedule('a', task.task);
    task.reject();
    await flush();
    expect(logger.warn.mock.calls.at(-1)?.[0]).toContain('retrying in 100 ms');
  });

  it('never runs one key twice at once: scheduled while it runs, it runs again after', async () => {
    const first = aControlledTask();
    const second = jest.fn(() => Promise.resolve());
    sut.schedule('c', first.task);
    sut.schedule('c', second);
    sut.schedule('c', second);
    expect(first.task).toHaveBeenCalledTimes(1);
    expect(second).not.toHaveBeenCalled();
    first.resolve();
    await flush();
    expect(second).toHaveBeenCalledTimes(1);
  });

  it('runs the newest task of a key that waits, in the key’s place', async () => {
    sut = new EngineWorkQueue('engine', logger, { ...OPTIONS, concurrency: 1 });
    const blocker = aControlledTask();
    const order: string[] = [];
    sut.schedule('busy', blocker.task);
    sut.schedule('a', () => (order.push('a-old'), Promise.resolve()));
    sut.schedule('b', () => (order.push('b'), Promise.resolve()));
    sut.schedule('a', () => (order.push('a-new'), Promise.resolve()));
    blocker.resolve();
    await flush();
    expect(order).toEqual(['a-new', 'b']);
  });

  it('does not retry a running task that was cancelled and then failed', async () => {
    const task = aControlledTask();
    sut.schedule('gone', task.task);
    sut.cancel('gone');
    task.reject();
    await jest.advanceTimersByTimeAsync(1000);
    expect(task.task).toHaveBeenCalledTimes(1);
    expect(sut.size).toBe(0);
  });

  it('drops a cancelled task that waits', async () => {
    const blocker = aControlledTask();
    const cancelled = jest.fn(() => Promise.resolve());
    sut = new EngineWorkQueue('engine', logger, { ...OPTIONS, concurrency: 1 });
    sut.schedule('busy', blocker.task);
    sut.schedule('gone', cancelled);
    sut.cancel('gone');
    blocker.resolve();
    await flush();
    expect(cancelled).not.toHaveBeenCalled();
    expect(sut.size).toBe(0);
  });
});
