import type { WebSocketConstructor, WebSocketLike } from '../../src';
import type { ClientEvents, ServerEvents } from '../../src/wire';

type Listener = (event?: unknown) => void;
type ClientFrame = { [E in keyof ClientEvents]: { event: E; data: ClientEvents[E] } }[keyof ClientEvents];

/** An in-memory WebSocket: the test plays the server by calling `accept`, `serverSends` and `serverCloses`. */
export class FakeSocket implements WebSocketLike {
  readyState = 0;
  readonly sent: ClientFrame[] = [];
  private readonly listeners = new Map<string, Listener[]>();

  constructor(readonly url: string) {}

  addEventListener(type: string, listener: (event: never) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener as Listener]);
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data) as ClientFrame);
  }

  close(code = 1000, reason = ''): void {
    this.serverCloses(code, reason);
  }

  accept(): void {
    this.readyState = 1;
    this.dispatch('open');
  }

  serverSends<E extends keyof ServerEvents>(event: E, data: ServerEvents[E]): void {
    this.dispatch('message', { data: JSON.stringify({ event, data }) });
  }

  serverCloses(code: number, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.dispatch('close', { code, reason });
  }

  sentFrames<E extends keyof ClientEvents>(event: E): ClientEvents[E][] {
    return this.sent.filter((frame) => frame.event === event).map((frame) => frame.data as ClientEvents[E]);
  }

  private dispatch(type: string, event?: unknown): void {
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }
}

/** A WebSocket class for `HeraldClient`'s `WebSocket` option, and every socket it made, oldest first. */
export function fakeWebSocketClass(): { WebSocket: WebSocketConstructor; sockets: FakeSocket[] } {
  const sockets: FakeSocket[] = [];
  class RecordedFakeSocket extends FakeSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  }
  return { WebSocket: RecordedFakeSocket, sockets };
}
