import {
  createDecipheriv,
  createECDH,
  createPublicKey,
  hkdfSync,
  randomBytes,
  randomUUID,
  verify,
  type ECDH,
} from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { waitUntil } from './wait';

/** A subscription as a browser's PushManager would hand it to the page. */
export interface FakeSubscription {
  id: string;
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** What the fake answers one push with. */
export type PushAnswer =
  | { status: 201 | 202 | 404 | 410 | 413 | 500 | 502 | 503 }
  | { status: 429; retryAfter?: string }
  /** Holds the request this long before answering 201 (a slow push service). */
  | { status: 201; delayMs: number };

/** One request the fake received. */
export interface PushRecord {
  subscriptionId: string;
  /** ms since the epoch when it arrived */
  at: number;
  headers: IncomingMessage['headers'];
  status: number;
  /** Why the fake refused it (VAPID or encryption), if it did; such a request gets 400/401/403. */
  problem?: string;
  /** The VAPID JWT's claims, once verified. */
  claims?: { aud: string; exp: number; sub: string };
  /** The decrypted message (UTF-8). */
  message?: string;
}

interface Minted {
  subscription: FakeSubscription;
  ecdh: ECDH;
  auth: Buffer;
  answers: PushAnswer[];
}

/**
 * A Web Push service (RFC 8030) on loopback, strict like a real one: it mints subscriptions as a
 * browser does (ECDH P-256 key pair and a 16-byte auth secret), verifies every request's VAPID
 * authorization (RFC 8292: `vapid t=<jwt>, k=<key>`, the ES256 signature with `k`, `k` being the
 * application server key it was started with, `aud` its own origin, `exp` in the future and at most
 * 24 h ahead, a `mailto:`/`https:` `sub`) and decrypts every message (RFC 8291 aes128gcm) with the
 * subscription's private key. Answers per subscription are scripted with {@link answer}; by default
 * 201. Every request is recorded with its headers.
 */
export class FakePushService {
  readonly requests: PushRecord[] = [];
  private readonly minted = new Map<string, Minted>();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: Server,
    /** http://127.0.0.1:<port> — the `aud` every VAPID JWT must carry. */
    readonly origin: string,
    private readonly applicationServerKey: string,
  ) {}

  /** Starts it on a free loopback port, for pushes signed with `vapidPublicKey` (base64url). */
  static async start(vapidPublicKey: string): Promise<FakePushService> {
    const ready: { service?: FakePushService } = {};
    const server = createServer((request, response) => {
      ready.service?.handle(request, response);
    });
    server.on('error', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const service = new FakePushService(server, `http://127.0.0.1:${port}`, vapidPublicKey);
    ready.service = service;
    server.on('connection', (socket) => {
      service.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.once('close', () => service.sockets.delete(socket));
    });
    return service;
  }

  /** A new subscription of this push service (as `pushManager.subscribe()` returns). */
  subscribe(): FakeSubscription {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = randomBytes(16);
    const id = randomUUID();
    const subscription: FakeSubscription = {
      id,
      endpoint: `${this.origin}/push/${id}`,
      keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') },
    };
    this.minted.set(id, { subscription, ecdh, auth, answers: [] });
    return subscription;
  }

  /** The next pushes to `subscription` get these answers, in order; after them, 201 again. */
  answer(subscription: FakeSubscription, ...answers: PushAnswer[]): void {
    this.mintedOf(subscription).answers.push(...answers);
  }

  /** Every request for the subscription so far. */
  requestsFor(subscription: FakeSubscription): PushRecord[] {
    return this.requests.filter((record) => record.subscriptionId === subscription.id);
  }

  /** The decrypted messages the subscription accepted (2xx), parsed as JSON. */
  delivered(subscription: FakeSubscription): Record<string, unknown>[] {
    return this.requestsFor(subscription)
      .filter((record) => record.status < 300 && record.message !== undefined)
      .map((record) => JSON.parse(record.message as string) as Record<string, unknown>);
  }

  /** Waits until `count` requests for the subscription have been answered. */
  waitForRequests(subscription: FakeSubscription, count: number, timeoutMs = 10_000): Promise<PushRecord[]> {
    return waitUntil(
      () => {
        const found = this.requestsFor(subscription);
        return found.length >= count ? found : undefined;
      },
      timeoutMs,
      `${count} push request(s) for subscription ${subscription.id} (have ${this.requestsFor(subscription).length})`,
      10,
    );
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private mintedOf(subscription: FakeSubscription): Minted {
    const minted = this.minted.get(subscription.id);
    if (!minted) throw new Error(`subscription ${subscription.id} is not one of this push service's`);
    return minted;
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('error', () => response.destroy());
    request.on('end', () => {
      const record = this.receive(request, Buffer.concat(chunks));
      const minted = this.minted.get(record.subscriptionId);
      const answer: PushAnswer = record.problem
        ? { status: 201 }
        : (minted?.answers.shift() ?? { status: 201 });
      const status = record.problem ? record.status : answer.status;
      const headers: Record<string, string> = { 'Content-Type': 'text/plain' };
      if (status === 201) headers.Location = `${this.origin}/message/${randomUUID()}`;
      if ('retryAfter' in answer && answer.retryAfter !== undefined)
        headers['Retry-After'] = answer.retryAfter;
      const send = () => {
        record.status = status;
        this.requests.push(record);
        response.writeHead(status, headers).end(record.problem ?? '');
      };
      if ('delayMs' in answer) {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          send();
        }, answer.delayMs);
        this.timers.add(timer);
      } else send();
    });
  }

  /** Checks and decrypts one request; a refusal sets `problem` and its status. */
  private receive(request: IncomingMessage, body: Buffer): PushRecord {
    const match = /^\/push\/([^/?]+)$/.exec(request.url ?? '');
    const record: PushRecord = {
      subscriptionId: match?.[1] ?? '',
      at: Date.now(),
      headers: request.headers,
      status: 0,
    };
    const refuse = (status: number, problem: string): PushRecord => ({ ...record, status, problem });
    const minted = this.minted.get(record.subscriptionId);
    if (request.method !== 'POST' || !minted) return refuse(404, 'no such subscription');
    if (request.headers.ttl === undefined || !/^\d+$/.test(String(request.headers.ttl)))
      return refuse(400, 'TTL header missing or not a number');
    const vapid = this.checkVapid(request.headers.authorization);
    if (typeof vapid === 'string') return refuse(vapid.startsWith('k=') ? 403 : 401, vapid);
    record.claims = vapid;
    if (request.headers['content-encoding'] !== 'aes128gcm')
      return refuse(
        400,
        `Content-Encoding must be aes128gcm (got ${String(request.headers['content-encoding'])})`,
      );
    try {
      record.message = decryptAes128gcm(body, minted.ecdh, minted.auth).toString('utf8');
    } catch (error) {
      return refuse(400, `cannot decrypt: ${(error as Error).message}`);
    }
    return record;
  }

  private checkVapid(header: string | undefined): PushRecord['claims'] | string {
    const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+=*)$/.exec(header ?? '');
    if (!match) return 'Authorization must be `vapid t=<jwt>, k=<key>`';
    const [, token, key] = match;
    // Browsers and libraries differ on `=` padding: compare the decoded bytes.
    if (!Buffer.from(key, 'base64url').equals(Buffer.from(this.applicationServerKey, 'base64url')))
      return 'k= is not the application server key the subscription was made for';
    const parts = token.split('.');
    if (parts.length !== 3) return 'the VAPID JWT is not three parts';
    const [head, payload, signature] = parts;
    const header_ = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as { alg?: string };
    if (header_.alg !== 'ES256') return `the VAPID JWT must be ES256 (got ${String(header_.alg)})`;
    const point = Buffer.from(key, 'base64url');
    const publicKey = createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: point.subarray(1, 33).toString('base64url'),
        y: point.subarray(33, 65).toString('base64url'),
      },
      format: 'jwk',
    });
    const signed = verify(
      'sha256',
      Buffer.from(`${head}.${payload}`),
      { key: publicKey, dsaEncoding: 'ieee-p1363' },
      Buffer.from(signature, 'base64url'),
    );
    if (!signed) return 'the VAPID JWT signature does not verify with k=';
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const now = Math.floor(Date.now() / 1000);
    if (claims.aud !== this.origin) return `aud must be ${this.origin} (got ${String(claims.aud)})`;
    if (typeof claims.exp !== 'number' || claims.exp <= now) return 'exp missing or passed';
    if (claims.exp > now + 24 * 3600) return 'exp more than 24 h ahead';
    if (typeof claims.sub !== 'string' || !/^(mailto:|https:)/.test(claims.sub))
      return 'sub must be a mailto: or https: contact';
    return { aud: claims.aud, exp: claims.exp, sub: claims.sub };
  }
}

/**
 * RFC 8291 (Message Encryption for Web Push) over RFC 8188 aes128gcm, as the user agent does it:
 * header `salt(16) | rs(4) | idlen(1) | keyid(idlen: the sender's public key)`, then one record.
 */
export function decryptAes128gcm(body: Buffer, receiver: ECDH, authSecret: Buffer): Buffer {
  if (body.length < 21) throw new Error('body shorter than the aes128gcm header');
  const salt = body.subarray(0, 16);
  const recordSize = body.readUInt32BE(16);
  const idLength = body[20];
  const senderKey = body.subarray(21, 21 + idLength);
  const record = body.subarray(21 + idLength);
  if (idLength !== 65) throw new Error(`keyid must be the sender's 65-byte public key (got ${idLength})`);
  if (record.length > recordSize) throw new Error('more than one record');
  if (record.length < 17) throw new Error('record shorter than its tag');
  const shared = receiver.computeSecret(senderKey);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), receiver.getPublicKey(), senderKey]);
  const ikm = Buffer.from(hkdfSync('sha256', shared, authSecret, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  // The last record ends with the delimiter 0x02, then any number of zero bytes.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end -= 1;
  if (end < 0 || padded[end] !== 0x02) throw new Error('no last-record delimiter');
  return padded.subarray(0, end);
}
