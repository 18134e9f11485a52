import { SerialTask } from './serial-task';

describe(SerialTask.name, () => {
  /** A task whose runs the test finishes one by one. */
  const aTask = () => {
    const finishes: Array<() => void> = [];
    const task = new SerialTask(() => new Promise<void>((resolve) => finishes.push(resolve)));
    const finishRun = async (): Promise<void> => {
      finishes.shift()?.();
      for (let i = 0; i < 5; i++) await Promise.resolve();
    };
    return { task, finishes, finishRun };
  };

  it('runs once per request while idle, and once more for all requests made during a run', async () => {
    const { task, finishes, finishRun } = aTask();
    task.request();
    task.request();
    task.request();
    expect(finishes).toHaveLength(1);

    await finishRun();
    expect(finishes).toHaveLength(1); // the one rerun for both requests made during the first
    await finishRun();
    expect(finishes).toHaveLength(0);

    task.request();
    expect(finishes).toHaveLength(1);
  });

  it('starts no run after close, and close waits for the current one', async () => {
    const { task, finishes, finishRun } = aTask();
    task.request();
    task.request();
    let closed = false;
    const closing = task.close().then(() => (closed = true));
    await Promise.resolve();
    expect(closed).toBe(false);

    await finishRun();
    await closing;
    expect(closed).toBe(true);
    expect(finishes).toHaveLength(0); // the rerun asked for before close did not start
    task.request();
    expect(finishes).toHaveLength(0);
  });
});
