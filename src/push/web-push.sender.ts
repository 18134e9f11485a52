import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type webpush from 'web-push';
import type { VapidKeys } from '../config/app-config';
import type { PushMessage, PushUrgency } from '../protocol/wire';
import { isPrivateAddress } from './push-endpoint';
import type { PushSubscriptionKeys } from './push-subscription.store';

/** The largest encrypted message push services must accept (RFC 8030 §7.2). */
export const MAX_ENCRYPTED_BYTES = 4096;

/** What one push request came to. */
export type PushOutcome =
  /** 201/202 (any 2xx): the push service took it. */
  | { kind: 'accepted' }
  /** 404/410: the subscription is no longer valid; delete it. */
  | { kind: 'gone'; status: number }
  /** 413 or another 4xx, or a message that cannot be made small enough: failed for this subscription. */
  | { kind: 'rejected'; status: number | null; reason: string }
  /** 429, 5xx, a timeout or a network error: try again, not before `retryAfterMs` when the service said. */
  | { kind: 'retry'; status: number | null; reason: string; retryAfterMs?: number };

export interface PushHeaders {
  /** Seconds the push service should keep the message (the `TTL` header). */
  ttlSeconds: number;
  urgency: PushUrgency;
  /** The `Topic` header: a newer message with the same topic replaces an undelivered older one. */
  topic?: string;
}

export interface SenderTimeouts {
  /** From the request to an established connection. */
  connectMs: number;
  /** From the request written to the response's status line. */
  responseMs: number;
}

export const DEFAULT_TIMEOUTS: SenderTimeouts = { connectMs: 5000, responseMs: 10_000 };

/** Sockets kept open per push-service origin (one origin serves a whole browser family). */
const MAX_SOCKETS_PER_ORIGIN = 64;

/**
 * Sends Web Push messages: RFC 8291 aes128gcm encryption and the RFC 8292 VAPID header built by
 * web-push's `generateRequestDetails`, posted with Herald's own HTTP client — keep-alive pools per
 * scheme, a connect and a response timeout, and (unless PUSH_ALLOW_PRIVATE_ENDPOINTS) a DNS lookup that
 * refuses names resolving to loopback/private addresses. Never throws: every failure is an outcome.
 */
export class WebPushSender {
  /**
   * Loads web-push (half a second of start-up on a busy machine) only for a replica with Web Push
   * on, and makes a sender.
   */
  static async create(
    vapid: VapidKeys,
    allowPrivate: boolean,
    timeouts?: SenderTimeouts,
  ): Promise<WebPushSender> {
    const { default: library } = await import('web-push');
    return new WebPushSender(library, vapid, allowPrivate, timeouts);
  }

  private readonly http: HttpAgent;
  private readonly https: HttpsAgent;
  private readonly vapidDetails: { subject: string; publicKey: string; privateKey: string };

  private constructor(
    private readonly library: typeof webpush,
    vapid: VapidKeys,
    private readonly allowPrivate: boolean,
    private readonly timeouts: SenderTimeouts = DEFAULT_TIMEOUTS,
  ) {
    const pool = { keepAlive: true, maxSockets: MAX_SOCKETS_PER_ORIGIN, scheduling: 'lifo' as const };
    this.http = new HttpAgent(pool);
    this.https = new HttpsAgent(pool);
    this.vapidDetails = { subject: vapid.subject, publicKey: vapid.publicKey, privateKey: vapid.privateKey };
  }

  /**
   * The message as it will be encrypted: with `payload` when the encrypted body fits
   * {@link MAX_ENCRYPTED_BYTES}, else `payloadOmitted: true` (the service worker fetches it if needed).
   * Undefined when even that does not fit.
   */
  encode(
    subscription: { endpoint: string; keys: PushSubscriptionKeys },
    message: PushMessage,
    headers: PushHeaders,
  ): webpush.RequestDetails | undefined {
    const options: webpush.RequestOptions = {
      vapidDetails: this.vapidDetails,
      TTL: headers.ttlSeconds,
      urgency: headers.urgency,
      ...(headers.topic === undefined ? {} : { topic: headers.topic }),
    };
    const full = this.library.generateRequestDetails(subscription, JSON.stringify(message), options);
    if (byteLength(full.body) <= MAX_ENCRYPTED_BYTES) return full;
    const slim = this.library.generateRequestDetails(
      subscription,
      JSON.stringify({ ...message, payload: undefined, payloadOmitted: true }),
      options,
    );
    return byteLength(slim.body) <= MAX_ENCRYPTED_BYTES ? slim : undefined;
  }

  async send(
    subscription: { endpoint: string; keys: PushSubscriptionKeys },
    message: PushMessage,
    headers: PushHeaders,
  ): Promise<PushOutcome> {
    let details: webpush.RequestDetails | undefined;
    try {
      details = this.encode(subscription, message, headers);
    } catch (error) {
      return { kind: 'rejected', status: null, reason: `cannot encrypt for it: ${(error as Error).message}` };
    }
    if (!details)
      return {
        kind: 'rejected',
        status: null,
        reason: `message over ${MAX_ENCRYPTED_BYTES} bytes encrypted`,
      };
    try {
      return classify(await this.post(details));
    } catch (error) {
      const reason = (error as Error).message;
      // A name that resolves into the private network will not stop doing so on a retry.
      return (error as NodeJS.ErrnoException).code === PRIVATE_ADDRESS
        ? { kind: 'rejected', status: null, reason }
        : { kind: 'retry', status: null, reason };
    }
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }

  private post(details: webpush.RequestDetails): Promise<IncomingMessage> {
    const url = new URL(details.endpoint);
    const secure = url.protocol === 'https:';
    const send = secure ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const timers: NodeJS.Timeout[] = [];
      const fail = (error: Error) => {
        timers.forEach(clearTimeout);
        request.destroy(error);
        reject(error);
      };
      const request = send(
        url,
        {
          method: 'POST',
          headers: details.headers,
          agent: secure ? this.https : this.http,
          ...(this.allowPrivate ? {} : { lookup: publicOnlyLookup }),
        },
        (response) => {
          timers.forEach(clearTimeout);
          // The body is not needed; read it so the socket goes back to the pool.
          response.resume();
          response.on('error', () => undefined);
          resolve(response);
        },
      );
      request.on('error', (error) => {
        timers.forEach(clearTimeout);
        reject(error);
      });
      const connecting = setTimeout(
        () => fail(new Error(`no connection within ${this.timeouts.connectMs} ms`)),
        this.timeouts.connectMs,
      );
      timers.push(connecting);
      request.on('socket', (socket) => {
        const connected = () => {
          clearTimeout(connecting);
          timers.push(
            setTimeout(
              () => fail(new Error(`no response within ${this.timeouts.responseMs} ms`)),
              this.timeouts.responseMs,
            ),
          );
        };
        // A pooled socket is connected already.
        if (socket.connecting) socket.once('connect', connected);
        else connected();
      });
      request.end(details.body ?? undefined);
    });
  }
}

const byteLength = (body: Buffer | null): number => body?.length ?? 0;

function classify(response: IncomingMessage): PushOutcome {
  const status = response.statusCode ?? 0;
  if (status >= 200 && status < 300) return { kind: 'accepted' };
  if (status === 404 || status === 410) return { kind: 'gone', status };
  if (status === 429 || status >= 500) {
    const retryAfterMs = retryAfterOf(response.headers['retry-after']);
    const reason = `push service answered ${status}`;
    return retryAfterMs === undefined
      ? { kind: 'retry', status, reason }
      : { kind: 'retry', status, reason, retryAfterMs };
  }
  return { kind: 'rejected', status, reason: `push service answered ${status}` };
}

/** `Retry-After`: seconds, or an HTTP date (RFC 9110 §10.2.3), as ms from now. */
export function retryAfterOf(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** The error code of a lookup refused by {@link publicOnlyLookup}. */
const PRIVATE_ADDRESS = 'EPRIVATEADDRESS';

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** dns.lookup that fails for a name resolving to a loopback/private address (no SSRF through DNS). */
function publicOnlyLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const refused = addresses.find((entry) => isPrivateAddress(entry.address));
    if (refused)
      return callback(
        Object.assign(new Error(`${hostname} resolves to the private address ${refused.address}`), {
          code: PRIVATE_ADDRESS,
        }),
        [],
      );
    if (options.all) return callback(null, addresses);
    return callback(null, addresses[0].address, addresses[0].family);
  });
}

/** The sender, or null when Web Push is off (no VAPID keys). */
export const WEB_PUSH_SENDER = Symbol('WebPushSender');
