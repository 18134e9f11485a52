import { INestApplicationContext, Logger } from '@nestjs/common';
import { MessageMappingProperties } from '@nestjs/websockets';
import { WsAdapter } from '@nestjs/platform-ws';
import { IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { Admission, HandshakeGate, Refusal } from './handshake';

/** A client frame larger than this closes the connection with 1009 (`ws` does it through maxPayload). */
export const MAX_CLIENT_FRAME_BYTES = 16 * 1024;

const admissions = new WeakMap<IncomingMessage, Admission>();

const log = new Logger('HeraldWsAdapter');

/** Takes the admission the handshake made for this request (set before the `connection` event). */
export function takeAdmission(request: IncomingMessage): Admission {
  const admission = admissions.get(request);
  if (!admission) throw new Error('connection without admission');
  admissions.delete(request);
  return admission;
}

/**
 * Nest's `ws` adapter with the handshake done by Herald: the token and limits are checked on the HTTP
 * upgrade request, and a refusal is an HTTP response with a JSON body — no WebSocket is opened. Client
 * frames are read by the gateway itself (one parser, one exhaustive dispatch), not through
 * `@SubscribeMessage` handlers.
 */
export class HeraldWsAdapter extends WsAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly gate: HandshakeGate,
  ) {
    super(app);
  }

  override create(_port: number, options: { path?: string }): WebSocketServer {
    const path = options.path ?? '/';
    const server = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_CLIENT_FRAME_BYTES,
      perMessageDeflate: false,
      clientTracking: false,
    });
    server.on('error', (error) => log.error(`websocket server: ${error.message}`));
    (this.httpServer as import('node:http').Server).on(
      'upgrade',
      (request: IncomingMessage, socket: Duplex, head: Buffer) =>
        this.upgrade(server, path, request, socket, head),
    );
    return server;
  }

  override bindMessageHandlers(_client: unknown, _handlers: MessageMappingProperties[]): void {
    // The gateway reads frames itself (see NotificationsGateway.handleConnection).
  }

  override bindClientDisconnect(_client: unknown, _callback: () => void): void {
    // Each Connection reports its own close (ConnectionEvents.closed), without a closure per socket.
  }

  /** Clients were already closed with 1012 by the drain; this only stops the server. */
  override async close(server: WebSocketServer): Promise<void> {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private upgrade(
    server: WebSocketServer,
    path: string,
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): void {
    destroyOnError(socket);
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname !== path) {
      refuse(socket, { status: 404, message: `no WebSocket endpoint at ${url.pathname}; use ${path}` });
      return;
    }
    this.gate.admit(request, url.searchParams).then(
      (result) => {
        if ('refused' in result) {
          refuse(socket, result.refused);
          return;
        }
        if (socket.destroyed) {
          this.gate.forget(result.admitted);
          return;
        }
        admissions.set(request, result.admitted);
        this.accept(server, request, socket, head);
      },
      (error: Error) => {
        log.error(`handshake failed: ${error.message}`);
        refuse(socket, { status: 500, message: 'handshake failed' });
      },
    );
  }

  private accept(server: WebSocketServer, request: IncomingMessage, socket: Duplex, head: Buffer): void {
    server.handleUpgrade(request, socket, head, (ws) => {
      // From here `ws` owns the socket and its errors.
      socket.off('error', destroySocket);
      ws.on('error', logClientError);
      server.emit('connection', ws, request);
    });
  }
}

// Listeners shared by every socket (`this` is the socket), so that none keeps a closure — or the
// upgrade request — alive for as long as the connection lasts.

/** An oversize frame or a protocol error makes `ws` emit `error` (then close): never unhandled. */
function logClientError(this: WebSocket, error: Error): void {
  log.debug(`client socket: ${error.message}`);
}

function destroySocket(this: Duplex): void {
  this.destroy();
}

function destroyOnError(socket: Duplex): void {
  socket.on('error', destroySocket);
}

/** Answers the upgrade request with an HTTP error and a JSON body `{statusCode, error, message}`. */
function refuse(socket: Duplex, refusal: Refusal): void {
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
