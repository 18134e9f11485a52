import type { Dialect } from './protocol';

/**
 * Client side of the two wire formats. Decoding takes a fast path for notifications — a prefix test
 * and a scan for the payload's `"t":` — so that a client costs little and the same for every system;
 * anything else is parsed as JSON.
 */
export type Incoming =
  | { kind: 'notification'; t: number }
  | { kind: 'event'; event: string; data: unknown }
  /** Socket.IO: the Engine.IO handshake arrived; send the CONNECT packet. */
  | { kind: 'open' }
  /** Socket.IO: an Engine.IO ping; answer with a pong. */
  | { kind: 'ping' }
  | { kind: 'ignore' };

export interface DialectCodec {
  decode(frame: Buffer): Incoming;
  /** Socket.IO's CONNECT packet (with the token as auth, if any); undefined for Herald's format. */
  connectFrame(token: string | undefined): string | undefined;
  pongFrame: string;
  subscribeFrame(channel: string): string;
}

const T_KEY = Buffer.from('"t":');

/** The number after the first `"t":` in the frame, NaN if none. */
function readT(frame: Buffer, from: number): number {
  const at = frame.indexOf(T_KEY, from);
  if (at < 0) return NaN;
  const start = at + T_KEY.length;
  let end = start;
  while (end < frame.length) {
    const c = frame[end];
    // digits . - + e E
    if ((c >= 48 && c <= 57) || c === 46 || c === 45 || c === 43 || c === 101 || c === 69) end++;
    else break;
  }
  return Number(frame.toString('latin1', start, end));
}

function startsWith(frame: Buffer, prefix: Buffer): boolean {
  return frame.length >= prefix.length && frame.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

function payloadT(data: unknown): number {
  const payload = (data as { payload?: { t?: unknown } } | undefined)?.payload;
  return typeof payload?.t === 'number' ? payload.t : NaN;
}

const HERALD_NOTIFICATION = Buffer.from('{"event":"notification"');

const herald: DialectCodec = {
  decode(frame) {
    if (startsWith(frame, HERALD_NOTIFICATION))
      return { kind: 'notification', t: readT(frame, HERALD_NOTIFICATION.length) };
    const msg = JSON.parse(frame.toString('utf8')) as { event?: unknown; data?: unknown };
    if (typeof msg.event !== 'string') return { kind: 'ignore' };
    if (msg.event === 'notification') return { kind: 'notification', t: payloadT(msg.data) };
    return { kind: 'event', event: msg.event, data: msg.data };
  },
  connectFrame: () => undefined,
  pongFrame: '{"event":"pong","data":{}}',
  subscribeFrame: (channel) => JSON.stringify({ event: 'subscribe', data: { channel } }),
};

const SIO_NOTIFICATION = Buffer.from('42["notification",');
const CHAR = { open: 0x30, close: 0x31, ping: 0x32, message: 0x34 } as const;
const SIO = { connect: 0x30, disconnect: 0x31, event: 0x32, connectError: 0x34 } as const;

/** Socket.IO v4 (Engine.IO v4) over a WebSocket, default namespace, no binary, no acks. */
const socketio: DialectCodec = {
  decode(frame) {
    switch (frame[0]) {
      case CHAR.open:
        return { kind: 'open' };
      case CHAR.ping:
        return { kind: 'ping' };
      case CHAR.close:
        return { kind: 'event', event: 'disconnect', data: {} };
      case CHAR.message:
        break;
      default:
        return { kind: 'ignore' };
    }
    switch (frame[1]) {
      case SIO.event: {
        if (startsWith(frame, SIO_NOTIFICATION))
          return { kind: 'notification', t: readT(frame, SIO_NOTIFICATION.length) };
        const [event, data] = JSON.parse(frame.toString('utf8', 2)) as [unknown, unknown];
        if (typeof event !== 'string') return { kind: 'ignore' };
        if (event === 'notification') return { kind: 'notification', t: payloadT(data) };
        return { kind: 'event', event, data };
      }
      case SIO.connectError:
        return { kind: 'event', event: 'error', data: JSON.parse(frame.toString('utf8', 2)) as unknown };
      case SIO.disconnect:
        return { kind: 'event', event: 'disconnect', data: {} };
      default:
        return { kind: 'ignore' }; // CONNECT ack: the server's `ready` event follows
    }
  },
  connectFrame: (token) => (token === undefined ? '40' : `40${JSON.stringify({ token })}`),
  pongFrame: '3',
  subscribeFrame: (channel) => `42${JSON.stringify(['subscribe', { channel }])}`,
};

export const codecs: Record<Dialect, DialectCodec> = { herald, socketio };
