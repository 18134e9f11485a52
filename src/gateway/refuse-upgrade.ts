import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Refusal } from '../session/handshake';

/** Answers an upgrade request with an HTTP error and a JSON body `{statusCode, error, message}`. */
export function refuseUpgrade(socket: Duplex, refusal: Refusal): void {
  const error = STATUS_CODES[refusal.status] ?? 'Error';
  const body = JSON.stringify({ statusCode: refusal.status, error, message: refusal.message });
  const headers = {
    Connection: 'close',
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    ...refusal.headers,
  };
  const head = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}`)
    .join('\r\n');
  socket.end(`HTTP/1.1 ${refusal.status} ${error}\r\n${head}\r\n\r\n${body}`);
}
