/**
 * A complete, unmasked WebSocket text frame (RFC 6455 §5.2: FIN, opcode 1, no extensions) around
 * `text`. A notification's frame is made once and the same bytes are written to every socket on its
 * channel, instead of `ws` framing (and, for strings, encoding) it again for each one.
 */
export function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x81;
  if (headerLength === 2) {
    frame[1] = length;
  } else if (headerLength === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  frame.write(text, headerLength, 'utf8');
  return frame;
}
