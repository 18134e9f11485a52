import type { ChannelPosition } from '../broker/broker';

/**
 * The `id:` of an SSE event: where the stream stands on every one of its channels, so that a reconnect
 * sending it back (`Last-Event-ID`, or the `lastEventId` query) recovers each channel, on any replica.
 * Opaque to clients. Form: `1` then, per channel, `.<8 hex of the channel name's hash>:<offset>:<epoch>`
 * — the name's hash keeps the id short (a stream may be on 102 channels) and lets the reconnect match
 * positions to channels whatever the order or set of its topics; a hash collision between two channels
 * of one stream cannot pass as a recovery, since it would have to present the other channel's epoch.
 */
const VERSION = '1';
const ENTRY = /^([0-9a-f]{8}):(\d{1,15}):([A-Za-z0-9_-]{1,100})$/;

/** The hash of a channel name as it appears in an event id. */
export function channelTag(channel: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < channel.length; i++) {
    hash ^= channel.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, '0');
}

export function encodeEventId(positions: Iterable<[channel: string, position: ChannelPosition]>): string {
  let id = VERSION;
  for (const [channel, { offset, epoch }] of positions) id += `.${channelTag(channel)}:${offset}:${epoch}`;
  return id;
}

/**
 * The positions an event id names, by channel tag; undefined when it is not an id this server makes
 * (the reconnect is then refused with 400 rather than silently starting from nothing).
 */
export function decodeEventId(id: string): Map<string, ChannelPosition> | undefined {
  const [version, ...entries] = id.split('.');
  if (version !== VERSION || id.length > 16 * 1024) return undefined;
  const positions = new Map<string, ChannelPosition>();
  for (const entry of entries) {
    const match = ENTRY.exec(entry);
    if (!match) return undefined;
    positions.set(match[1], { offset: Number(match[2]), epoch: match[3] });
  }
  return positions;
}
