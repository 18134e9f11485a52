import { EventSource } from 'eventsource';
import type { NotificationData } from '../../src/protocol/wire';
import { waitUntil } from './wait';

/** One SSE event as the client saw it. */
export interface SseEvent {
  event: string;
  data: Record<string, unknown>;
  /** The event's `id:` (EventSource's lastEventId after it). */
  id: string;
}

export interface SseClientOptions {
  /** `topics` query. */
  topics?: string[];
  /** `lastEventId` query (a new stream recovering from an earlier one's position). */
  lastEventId?: string;
  /**
   * The replica each (re)connection goes to, asked at every attempt: a test switches it to stand in
   * for a load balancer sending EventSource's own reconnect elsewhere.
   */
  origin: () => string;
}

const EVENTS = ['ready', 'subscribed', 'notification', 'error'] as const;

/**
 * A real EventSource client (the `eventsource` package) on `/v1/sse` that records every event. It
 * reconnects by itself, sending `Last-Event-ID`, as a browser's does; `attempts` counts the requests.
 */
export class SseTestClient {
  readonly events: SseEvent[] = [];
  attempts = 0;
  /** Status of each response EventSource got (200 for a stream, else a refusal). */
  readonly statuses: number[] = [];
  private readonly source: EventSource;

  constructor(token: string, options: SseClientOptions) {
    const query = new URLSearchParams({ access_token: token });
    if (options.topics) query.set('topics', options.topics.join(','));
    if (options.lastEventId) query.set('lastEventId', options.lastEventId);
    const path = `/v1/sse?${query.toString()}`;
    this.source = new EventSource(`${options.origin()}${path}`, {
      fetch: async (_url, init) => {
        this.attempts += 1;
        const response = await fetch(`${options.origin()}${path}`, init);
        this.statuses.push(response.status);
        return response;
      },
    });
    for (const name of EVENTS) {
      this.source.addEventListener(name, (event: MessageEvent) => {
        // EventSource fires a plain `error` Event (no data) when the connection drops.
        if (typeof event.data !== 'string') return;
        this.events.push({
          event: name,
          data: JSON.parse(event.data) as Record<string, unknown>,
          id: event.lastEventId,
        });
      });
    }
  }

  /** The id of the last event that carried one. */
  get lastEventId(): string {
    return [...this.events].reverse().find((event) => event.id !== '')?.id ?? '';
  }

  of(event: string): SseEvent[] {
    return this.events.filter((e) => e.event === event);
  }

  notifications(channel?: string): NotificationData[] {
    return this.of('notification')
      .map((event) => event.data as unknown as NotificationData)
      .filter((data) => channel === undefined || data.channel === channel);
  }

  async waitFor(event: string, count = 1, timeoutMs = 10_000): Promise<SseEvent[]> {
    return waitUntil(
      () => {
        const found = this.of(event);
        return found.length >= count ? found : undefined;
      },
      timeoutMs,
      `${count} "${event}" SSE events (have ${this.of(event).length})`,
      10,
    );
  }

  async waitForNotifications(
    count: number,
    channel?: string,
    timeoutMs = 10_000,
  ): Promise<NotificationData[]> {
    return waitUntil(
      () => {
        const found = this.notifications(channel);
        return found.length >= count ? found : undefined;
      },
      timeoutMs,
      `${count} SSE notifications${channel ? ` on ${channel}` : ''} (have ${this.notifications(channel).length})`,
      10,
    );
  }

  close(): void {
    this.source.close();
  }
}
