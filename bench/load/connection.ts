import jwt from 'jsonwebtoken';
import WebSocket, { RawData } from 'ws';
import { codecs, DialectCodec } from './dialects';
import { BENCH_TOKEN_TOPICS } from './payload';
import type { ClientSpec } from './protocol';

/** Where and how one client connects: the URL, and for Socket.IO the token for the CONNECT packet. */
export interface ConnectionTarget {
  url: string;
  connectToken?: string;
  /** Source address to connect from (see OpenArgs.localAddress). */
  localAddress?: string;
}

/** A client token as Herald (and the peer) expect it: HS256, `sub`, `exp`, and the bench topics. */
export function clientToken(secret: string, user: string): string {
  return jwt.sign({ sub: user, topics: BENCH_TOKEN_TOPICS }, secret, { algorithm: 'HS256', expiresIn: '2h' });
}

export function connectionTarget(spec: ClientSpec, user: string, replica: number): ConnectionTarget {
  const endpoint = spec.endpoints[replica];
  if (endpoint === undefined) throw new Error(`no replica ${replica} (have ${spec.endpoints.length})`);
  switch (spec.auth) {
    case 'jwt-query':
      return { url: `${endpoint}?access_token=${clientToken(spec.jwtSecret, user)}` };
    case 'jwt-connect':
      return { url: endpoint, connectToken: clientToken(spec.jwtSecret, user) };
    case 'user-query':
      return { url: `${endpoint}?user=${encodeURIComponent(user)}` };
  }
}

export interface ConnectionEvents {
  notification(conn: BenchConnection, t: number): void;
  /** The server closed a connection that was open. */
  dropped(conn: BenchConnection, reason: string): void;
  errorFrame(conn: BenchConnection, data: unknown): void;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/** One load-generator client. */
export class BenchConnection {
  /** Notifications received since the last reset. */
  received = 0;
  private ws: WebSocket | undefined;
  private open = false;
  private readonly codec: DialectCodec;

  constructor(
    readonly user: string,
    private readonly target: ConnectionTarget,
    spec: ClientSpec,
    private readonly events: ConnectionEvents,
  ) {
    this.codec = codecs[spec.dialect];
  }

  /** Resolves once the server said `ready` (and `subscribed` to `topic:<topic>` when a topic is given). */
  connect(topic: string | undefined, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.target.url, {
        perMessageDeflate: false,
        handshakeTimeout: timeoutMs,
        localAddress: this.target.localAddress,
      });
      this.ws = ws;
      let settled = false;
      const settle = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          ws.terminate();
          reject(err);
        } else {
          this.open = true;
          resolve();
        }
      };
      const timer = setTimeout(() => settle(new Error('no ready frame in time')), timeoutMs);
      const channel = topic === undefined ? undefined : `topic:${topic}`;

      ws.on('error', (err) => settle(err));
      ws.on('close', (code, reason) => {
        if (!settled) settle(new Error(`closed ${code} ${reason.toString()}`));
        else if (this.open) {
          this.open = false;
          this.events.dropped(this, `closed ${code} ${reason.toString()}`);
        }
      });
      ws.on('message', (data) => {
        let msg;
        try {
          msg = this.codec.decode(toBuffer(data));
        } catch {
          this.events.errorFrame(this, 'undecodable frame');
          return;
        }
        switch (msg.kind) {
          case 'notification':
            this.received++;
            this.events.notification(this, msg.t);
            return;
          case 'open': {
            const frame = this.codec.connectFrame(this.target.connectToken);
            if (frame !== undefined) ws.send(frame);
            return;
          }
          case 'ping':
            ws.send(this.codec.pongFrame);
            return;
          case 'ignore':
            return;
          case 'event':
            if (msg.event === 'ready') {
              if (channel === undefined) settle();
              else ws.send(this.codec.subscribeFrame(channel));
            } else if (msg.event === 'subscribed') {
              if ((msg.data as { channel?: unknown } | undefined)?.channel === channel) settle();
            } else if (msg.event === 'error' || msg.event === 'disconnect') {
              if (!settled) settle(new Error(`${msg.event}: ${JSON.stringify(msg.data)}`));
              else this.events.errorFrame(this, msg.data);
            }
            return;
        }
      });
    });
  }

  close(): void {
    this.open = false;
    this.ws?.terminate();
  }
}
