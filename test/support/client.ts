import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import type { NotificationData } from '../../src/protocol/wire';
import { TEST_API_KEY, TEST_JWT_SECRET, TestApp } from './app';
import { httpRequest, HttpResponse } from './http';
import { waitUntil } from './wait';

export interface Frame {
  event: string;
  data: Record<string, unknown>;
}

/** The `notification` frame's data. */
export type { NotificationData };

export interface TokenClaims {
  sub?: string;
  topics?: string[];
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  secret?: string;
}

let userCounter = 0;
/** A user id no other test uses (tests may share one Redis). */
export const aUserId = (label = 'user'): string =>
  `${label}-${process.pid}-${Date.now().toString(36)}-${++userCounter}`;

export function aToken({
  sub = aUserId(),
  topics,
  expiresIn = 3600,
  secret = TEST_JWT_SECRET,
}: TokenClaims = {}): string {
  const claims: Record<string, unknown> = { sub, exp: Math.floor(Date.now() / 1000) + expiresIn };
  if (topics) claims.topics = topics;
  return jwt.sign(claims, secret, { algorithm: 'HS256', noTimestamp: true });
}

/** A real `ws` client that records every frame it receives. */
export class TestClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  /** The close code and reason once the socket has closed, else undefined. */
  closeEvent: { code: number; reason: string } | undefined;
  private readonly readIndex = new Map<string, number>();

  constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => this.frames.push(JSON.parse(data.toString()) as Frame));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', (code: number, reason: Buffer) => {
        this.closeEvent = { code, reason: reason.toString() };
        resolve(this.closeEvent);
      }),
    );
  }

  /** The close code and reason, once the socket has closed. */
  waitClosed(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`socket not closed within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([this.closed, timeout]).finally(() => clearTimeout(timer));
  }

  send(event: string, data: unknown): void {
    this.socket.send(JSON.stringify({ event, data }));
  }

  /** The next frame of this event not yet returned by nextFrame. */
  async nextFrame(event: string, timeoutMs = 5000): Promise<Frame> {
    const from = this.readIndex.get(event) ?? 0;
    const index = await waitUntil(
      () => {
        const found = this.frames.findIndex((frame, i) => i >= from && frame.event === event);
        return found >= 0 ? found : undefined;
      },
      timeoutMs,
      `a "${event}" frame`,
      5,
    );
    this.readIndex.set(event, index + 1);
    return this.frames[index];
  }

  /** The notifications received so far (on `channel`), markers (see publishMarker) left out. */
  notifications(channel?: string): NotificationData[] {
    return notificationsIn(this.frames, channel);
  }

  /**
   * Waits for the marker notification `marker` (publishMarker) and returns the notifications that
   * arrived before it on this connection (on `channel`), markers left out: whatever an action before
   * the marker caused on the same path has arrived by then.
   */
  async notificationsBefore(
    marker: string,
    channel?: string,
    timeoutMs = 10_000,
  ): Promise<NotificationData[]> {
    const index = await this.markerIndex(marker, timeoutMs);
    return notificationsIn(this.frames.slice(0, index), channel);
  }

  /** True once the marker notification `marker` has arrived. */
  hasMarker(marker: string): boolean {
    return this.frames.some((frame) => markerOf(frame) === marker);
  }

  /** Index in `frames` of the first frame carrying the marker `marker`, once it has arrived. */
  markerIndex(marker: string, timeoutMs = 10_000): Promise<number> {
    return waitUntil(
      () => {
        const found = this.frames.findIndex((frame) => markerOf(frame) === marker);
        return found >= 0 ? found : undefined;
      },
      timeoutMs,
      `the marker notification ${marker}`,
      5,
    );
  }

  async waitForNotifications(
    count: number,
    channel?: string,
    timeoutMs = 10_000,
  ): Promise<NotificationData[]> {
    return waitUntil(
      () => {
        const received = this.notifications(channel);
        return received.length >= count ? received : undefined;
      },
      timeoutMs,
      `${count} notifications${channel ? ` on ${channel}` : ''} (have ${this.notifications(channel).length})`,
      5,
    );
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    this.socket.close();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.closed, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
    this.socket.terminate();
  }
}

/** The `type` of marker notifications, which TestClient.notifications() leaves out. */
export const MARKER_TYPE = 'test.marker';

const markerOf = (frame: Frame): string | undefined => {
  if (frame.event !== 'notification') return undefined;
  const data = frame.data as unknown as NotificationData;
  return data.type === MARKER_TYPE ? (data.payload as { marker: string }).marker : undefined;
};

const notificationsIn = (frames: readonly Frame[], channel?: string): NotificationData[] =>
  frames
    .filter((frame) => frame.event === 'notification' && markerOf(frame) === undefined)
    .map((frame) => frame.data as unknown as NotificationData)
    .filter((data) => channel === undefined || data.channel === channel);

export type MarkerTarget = { users: string[] } | { topics: string[] } | { broadcast: true };

let markerCounter = 0;

/**
 * The absence check, instead of a fixed sleep: after the action whose effect must NOT show, publish a
 * marker notification on the same path (the same channel, or — for a connection not on it — a channel
 * of the same connection: the replica delivers what its one subscriber link hands it in order), wait
 * for it (TestClient.notificationsBefore), then assert on what came before it. Returns the marker.
 */
export async function publishMarker(app: Pick<TestApp, 'url'>, target: MarkerTarget): Promise<string> {
  const marker = `marker-${process.pid}-${++markerCounter}`;
  const response = await publish(app, { ...target, type: MARKER_TYPE, payload: { marker } });
  if (response.status !== 202) {
    throw new Error(`the marker publish answered ${response.status}: ${JSON.stringify(response.body)}`);
  }
  return marker;
}

export interface ConnectOptions {
  query?: Record<string, string | number>;
  headers?: Record<string, string>;
  /** Wait for `ready` before resolving (default true). */
  waitReady?: boolean;
  wsOptions?: WebSocket.ClientOptions;
}

/** Connects with the token in the query (as browsers do) and waits for `ready`. */
export async function connect(
  app: Pick<TestApp, 'wsUrl'>,
  token: string,
  options: ConnectOptions = {},
): Promise<TestClient> {
  const query = new URLSearchParams({ access_token: token });
  for (const [name, value] of Object.entries(options.query ?? {})) query.set(name, String(value));
  const socket = new WebSocket(`${app.wsUrl}?${query.toString()}`, {
    headers: options.headers,
    ...options.wsOptions,
  });
  const client = new TestClient(socket);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connect timed out')), 5000);
    socket.once('open', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('unexpected-response', (_request, response) => {
      clearTimeout(timer);
      reject(new Error(`upgrade refused with ${response.statusCode}`));
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  if (options.waitReady !== false) await client.nextFrame('ready');
  return client;
}

/** Tries an upgrade that should be refused; returns the HTTP status, headers and JSON body. */
export async function refusedUpgrade(
  url: string,
  headers: Record<string, string> = {},
): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}> {
  const socket = new WebSocket(url, { headers });
  socket.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no refusal within 5 s')), 5000);
    socket.once('open', () => {
      clearTimeout(timer);
      socket.terminate();
      reject(new Error('upgrade was accepted'));
    });
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => {
        clearTimeout(timer);
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: JSON.parse(body) as Record<string, unknown>,
        });
      });
    });
  });
}

export interface PublishResponse {
  status: number;
  headers: HttpResponse['headers'];
  body: Record<string, unknown> & {
    id?: string;
    deliveries?: { channel: string; offset: number; epoch: string }[];
  };
}

/** POSTs JSON to the app with the test API key (or `apiKey`). */
export async function post(
  app: Pick<TestApp, 'url'>,
  path: string,
  body: unknown,
  { apiKey = TEST_API_KEY, headers = {} }: { apiKey?: string | null; headers?: Record<string, string> } = {},
): Promise<PublishResponse> {
  const response = await httpRequest('POST', `${app.url}${path}`, {
    headers: {
      'content-type': 'application/json',
      ...(apiKey === null ? {} : { authorization: `Bearer ${apiKey}` }),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = response.text;
  return {
    status: response.status,
    headers: response.headers,
    body: text ? (JSON.parse(text) as PublishResponse['body']) : {},
  };
}

export const publish = (app: Pick<TestApp, 'url'>, body: unknown, options?: Parameters<typeof post>[3]) =>
  post(app, '/v1/notifications', body, options);

/** A valid publish body to the given users. */
export const aNotification = (users: string[], payload: unknown = { n: 1 }, type = 'test.event') => ({
  users,
  type,
  payload,
});
