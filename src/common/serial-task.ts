/**
 * An async task that runs one at a time: {@link request} starts it, or, while a run is under way,
 * asks for one more run after it (every request made during a run is served by that one). After
 * {@link close} no run starts; it resolves once the current one is over.
 */
export class SerialTask {
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;

  constructor(private readonly task: () => Promise<void>) {}

  request(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.task().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.request();
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.running;
  }
}
