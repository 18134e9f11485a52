import type { ClientEvents, ClientFrame, ServerEvents } from '../protocol/wire';
import { readAckIds } from '../push/ack-ids';

/**
 * The WebSocket side of the wire protocol (src/protocol/wire.ts, docs/PROTOCOL.md): every frame in
 * both directions is a JSON text frame `{"event": string, "data": object}`. `notification` frames are
 * made by the engine once per stored message (see broker/notification-encoding.ts) and written as they
 * are.
 */
export type { ClientEvents, ClientFrame, ServerEvents };

export function encodeFrame<E extends keyof ServerEvents>(event: E, data: ServerEvents[E]): string {
  return JSON.stringify({ event, data });
}

/** A refusal names the problem, and the channel when the frame named one (so a client knows which request failed). */
export type ParsedFrame = { ok: true; frame: ClientFrame } | { ok: false; message: string; channel?: string };

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const refuse = (message: string, channel?: string): ParsedFrame =>
  channel === undefined ? { ok: false, message } : { ok: false, message, channel };

/** Parses and validates one client frame; the message of a refusal names what is wrong. */
export function parseClientFrame(raw: string): ParsedFrame {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return refuse('frame is not JSON');
  }
  if (!isObject(parsed) || typeof parsed.event !== 'string') {
    return refuse('frame must be a JSON object {"event": string, "data": object}');
  }
  const data = parsed.data ?? {};
  if (!isObject(data)) return refuse('`data` must be an object');
  const event = parsed.event;
  switch (event) {
    case 'subscribe':
      return parseSubscribe(data);
    case 'unsubscribe':
      return typeof data.channel === 'string'
        ? { ok: true, frame: { event, data: { channel: data.channel } } }
        : refuse('unsubscribe: `channel` must be a string');
    case 'ping':
      return { ok: true, frame: { event, data: {} } };
    case 'refresh':
      return typeof data.token === 'string' && data.token.length > 0
        ? { ok: true, frame: { event, data: { token: data.token } } }
        : refuse('refresh: `token` must be a non-empty string');
    case 'ack': {
      const ids = readAckIds(data.ids);
      return 'problem' in ids ? refuse(`ack: ${ids.problem}`) : { ok: true, frame: { event, data: { ids } } };
    }
    default:
      return refuse(`unknown event ${JSON.stringify(event).slice(0, 100)}`);
  }
}

function parseSubscribe(data: Record<string, unknown>): ParsedFrame {
  const { channel, offset, epoch } = data;
  if (typeof channel !== 'string') return refuse('subscribe: `channel` must be a string');
  if (offset === undefined && epoch === undefined) {
    return { ok: true, frame: { event: 'subscribe', data: { channel } } };
  }
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    return refuse('subscribe: `offset` must be a non-negative integer (sent together with `epoch`)', channel);
  }
  if (typeof epoch !== 'string' || epoch.length === 0 || epoch.length > 100) {
    return refuse('subscribe: `epoch` must be a non-empty string (sent together with `offset`)', channel);
  }
  return { ok: true, frame: { event: 'subscribe', data: { channel, offset, epoch } } };
}
