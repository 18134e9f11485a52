import type { EventSourceConstructor, EventSourceEventLike, EventSourceLike } from '../../src';
import type { ServerEvents } from '../../src/wire';

type Listener = (event: EventSourceEventLike) => void;

/**
 * An in-memory EventSource: the test plays the server with `accept`, `serverSends`, `serverSendsError`,
 * `serverEnds` (EventSource then reconnects by itself, sending `reconnectLastEventId`) and `refuse`.
 */
export class FakeEventSource implements EventSourceLike {
  readyState = 0;
  /** What a real EventSource sends as `Last-Event-ID` when it reconnects by itself: the last `id:` seen. */
  reconnectLastEventId = '';
  private readonly listeners = new Map<string, Listener[]>();

  constructor(readonly url: string) {}

  get query(): URLSearchParams {
    return new URL(this.url).searchParams;
  }

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  close(): void {
    this.readyState = 2;
  }

  accept(): void {
    this.readyState = 1;
    this.dispatch('open', {});
  }

  /** `id` is the event's `id:` line; like a browser, `lastEventId` keeps the last one for events without. */
  serverSends<E extends 'ready' | 'subscribed' | 'notification'>(
    event: E,
    data: ServerEvents[E],
    id?: string,
  ): void {
    if (id !== undefined) this.reconnectLastEventId = id;
    this.dispatch(event, { data: JSON.stringify(data), lastEventId: this.reconnectLastEventId });
  }

  serverSendsError(data: ServerEvents['error']): void {
    this.dispatch('error', { data: JSON.stringify(data), lastEventId: this.reconnectLastEventId });
  }

  /** The stream ended or the network dropped: EventSource will reconnect by itself. */
  serverEnds(): void {
    this.readyState = 0;
    this.dispatch('error', {});
  }

  /** A response other than 200: EventSource gives up. `status` is what the `eventsource` package shows. */
  refuse(status?: number): void {
    this.readyState = 2;
    this.dispatch('error', status === undefined ? {} : { code: status });
  }

  private dispatch(type: string, event: EventSourceEventLike): void {
    if (this.readyState === 2 && type !== 'error') return;
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }
}

/** An EventSource class for `HeraldClient`'s `EventSource` option, and every one it made, oldest first. */
export function fakeEventSourceClass(): { EventSource: EventSourceConstructor; sources: FakeEventSource[] } {
  const sources: FakeEventSource[] = [];
  class RecordedFakeEventSource extends FakeEventSource {
    constructor(url: string) {
      super(url);
      sources.push(this);
    }
  }
  return { EventSource: RecordedFakeEventSource, sources };
}
