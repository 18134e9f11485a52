import { randomUUID, verify } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { waitUntil } from './wait';

/**
 * A fake Mozilla autopush on loopback: the push service Firefox talks to when its `dom.push.serverURL`
 * pref points here (see firefoxPushPrefs). Firefox holds one WebSocket to it (the autopush protocol:
 * `hello`, `register`, `unregister`, `notification`, `ack`, `{}` pings); a subscription's endpoint is
 * `http://127.0.0.1:<port>/push/<channelID>` on the same server, and a Web Push POST there (RFC 8030,
 * aes128gcm, VAPID) is forwarded to Firefox as a `notification`, which Firefox decrypts and hands to the
 * service worker, then answers with `ack`.
 *
 * The POST's VAPID header is checked as a real push service would: its ES256 signature with the `k=`
 * key, that key equal to the subscription's `applicationServerKey`, `aud` the endpoint's origin and
 * `exp` within 24 h; a failure answers 403 (and nothing reaches the browser).
 */
export interface FakeAutopush {
  /** `ws://127.0.0.1:<port>/`, the value for `dom.push.serverURL`. */
  serverUrl: string;
  /** `http://127.0.0.1:<port>`, the origin of every endpoint it hands out. */
  endpointOrigin: string;
  /** Every subscription Firefox registered, by channel id. */
  readonly registrations: Map<string, Registration>;
  /** Every Web Push request received, in order, with the answer given. */
  readonly pushes: ReceivedPush[];
  /** Every `ack` Firefox sent for a forwarded notification (`code` 100: delivered to the worker). */
  readonly acks: { channelID: string; version: string; code: number }[];
  /** Waits until `count` acks arrived; returns them all. */
  waitForAcks(count: number, timeoutMs?: number): Promise<FakeAutopush['acks']>;
  close(): Promise<void>;
}

export interface Registration {
  channelID: string;
  endpoint: string;
  /** The subscription's applicationServerKey (the VAPID public key), raw bytes. */
  key: Buffer;
}

export interface ReceivedPush {
  channelID: string;
  status: number;
  headers: IncomingMessage['headers'];
  /** Why a push was refused (status 403, 404, 410), else undefined. */
  refusal?: string;
}

const VAPID_MAX_LIFETIME_S = 24 * 60 * 60;

export async function startFakeAutopush(): Promise<FakeAutopush> {
  const registrations = new Map<string, Registration>();
  const pushes: ReceivedPush[] = [];
  const acks: FakeAutopush['acks'] = [];
  /** Notifications for a browser that is not connected at the moment, sent at its next `hello`. */
  const queued: string[] = [];
  const uaid = randomUUID().replace(/-/g, '');
  let browser: WebSocket | undefined;
  let origin = '';

  const server: Server = createServer((request, response) => {
    handlePush(request, response).catch(() => answer(response, 500));
  });
  const sockets = new WebSocketServer({
    server,
    // Firefox asks for the autopush subprotocol and drops a socket that does not choose it.
    handleProtocols: (protocols) => (protocols.has('push-notification') ? 'push-notification' : false),
  });
  sockets.on('error', () => undefined);
  sockets.on('connection', (socket) => {
    socket.on('error', () => undefined);
    socket.on('message', (raw: Buffer) => handleMessage(socket, raw.toString()));
    socket.on('close', () => {
      if (browser === socket) browser = undefined;
    });
  });

  function send(socket: WebSocket, message: object): void {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function handleMessage(socket: WebSocket, raw: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return socket.close(4000, 'not JSON');
    }
    switch (message.messageType) {
      case undefined:
        return send(socket, {}); // a ping
      case 'hello': {
        browser = socket;
        send(socket, { messageType: 'hello', uaid, status: 200, use_webpush: true, broadcasts: {} });
        for (const notification of queued.splice(0)) socket.send(notification);
        return;
      }
      case 'register': {
        const channelID = String(message.channelID);
        const endpoint = `${origin}/push/${channelID}`;
        // Firefox sends the key as base64url with `=` padding; compare bytes, not text.
        const key = Buffer.from(typeof message.key === 'string' ? message.key : '', 'base64url');
        registrations.set(channelID, { channelID, endpoint, key });
        return send(socket, { messageType: 'register', channelID, status: 200, pushEndpoint: endpoint });
      }
      case 'unregister': {
        const channelID = String(message.channelID);
        registrations.delete(channelID);
        return send(socket, { messageType: 'unregister', channelID, status: 200 });
      }
      case 'ack': {
        for (const update of (message.updates ?? []) as FakeAutopush['acks']) acks.push(update);
        return;
      }
      default:
        return; // nack, broadcast_subscribe…: nothing this fake needs to answer
    }
  }

  async function handlePush(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    const channelID = /^\/push\/([^/]+)$/.exec(request.url ?? '')?.[1];
    if (request.method !== 'POST' || channelID === undefined) return answer(response, 404);
    const record = (status: number, refusal?: string): void => {
      pushes.push({ channelID, status, headers: request.headers, refusal });
      answer(response, status);
    };
    const registration = registrations.get(channelID);
    if (!registration) return record(410, 'no such subscription');
    const refusal = vapidRefusal(request.headers.authorization, registration.key, origin);
    if (refusal !== undefined) return record(403, refusal);
    if (request.headers['content-encoding'] !== 'aes128gcm') return record(415, 'not aes128gcm');

    const notification = JSON.stringify({
      messageType: 'notification',
      channelID,
      version: randomUUID(),
      data: body.toString('base64url'),
      headers: { encoding: 'aes128gcm' },
    });
    if (browser?.readyState === WebSocket.OPEN) browser.send(notification);
    else queued.push(notification);
    response.setHeader('Location', `${origin}/message/${randomUUID()}`);
    record(201);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;

  return {
    serverUrl: `ws://127.0.0.1:${port}/`,
    endpointOrigin: origin,
    registrations,
    pushes,
    acks,
    waitForAcks: (count, timeoutMs = 15_000) =>
      waitUntil(() => acks.length >= count && acks, timeoutMs, `${count} push acks from the browser`),
    close: async () => {
      for (const socket of sockets.clients) socket.terminate();
      await new Promise<void>((resolve) => sockets.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function answer(response: ServerResponse, status: number): void {
  response.statusCode = status;
  response.end();
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

/** Why an `Authorization: vapid t=<jwt>, k=<key>` header (RFC 8292) is not acceptable, or undefined. */
function vapidRefusal(header: string | undefined, expectedKey: Buffer, audience: string): string | undefined {
  const match = /^vapid t=([^,\s]+),\s*k=([^,\s]+)$/.exec(header ?? '');
  if (!match) return 'no vapid authorization';
  const [, token, k] = match;
  const key = Buffer.from(k, 'base64url');
  if (!key.equals(expectedKey)) return 'k is not the applicationServerKey';
  const [header64, claims64, signature64] = token.split('.');
  if (signature64 === undefined || key.length !== 65) return 'malformed vapid token';
  const jwk = {
    kty: 'EC',
    crv: 'P-256',
    x: key.subarray(1, 33).toString('base64url'),
    y: key.subarray(33).toString('base64url'),
  };
  const signed = verify(
    'sha256',
    Buffer.from(`${header64}.${claims64}`),
    { key: jwk, format: 'jwk', dsaEncoding: 'ieee-p1363' },
    Buffer.from(signature64, 'base64url'),
  );
  if (!signed) return 'bad vapid signature';
  const claims = JSON.parse(Buffer.from(claims64, 'base64url').toString()) as Record<string, unknown>;
  const nowS = Date.now() / 1000;
  if (claims.aud !== audience) return `aud is ${String(claims.aud)}, not ${audience}`;
  if (typeof claims.exp !== 'number' || claims.exp < nowS || claims.exp > nowS + VAPID_MAX_LIFETIME_S) {
    return 'exp missing, past or over 24 h ahead';
  }
  if (typeof claims.sub !== 'string' || !/^(mailto:|https:)/.test(claims.sub)) return 'no sub contact';
  return undefined;
}
