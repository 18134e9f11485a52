import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { RawData, WebSocket, WebSocketServer } from 'ws';
import type { ChannelPosition } from '../broker/broker';
import { userChannel } from '../common/channel';
import { Admission, HandshakeGate, RequestReader } from '../session/handshake';
import type { Session } from '../session/session';
import { SessionService } from '../session/session.service';
import { parseClientFrame } from './protocol';
import { refuseUpgrade } from './refuse-upgrade';
import { WebSocketTransport } from './websocket.transport';

/** The WebSocket endpoint's path. */
export const WEBSOCKET_PATH = '/v1/ws';
/** A client frame larger than this closes the connection with 1009 (`ws` does it through maxPayload). */
export const MAX_CLIENT_FRAME_BYTES = 16 * 1024;

const log = new Logger('WebSocketEndpoint');

/** The `offset`/`epoch` query: recover the personal channel from there (400 when malformed). */
function readRecovery(query: URLSearchParams): ReturnType<RequestReader<ChannelPosition | undefined>> {
  const offset = query.get('offset');
  const epoch = query.get('epoch');
  if (offset === null && epoch === null) return { value: undefined };
  const valid =
    offset !== null && epoch !== null && /^\d{1,15}$/.test(offset) && epoch.length > 0 && epoch.length <= 100;
  if (!valid) {
    return { refused: { status: 400, message: '`offset` (a non-negative integer) and `epoch` go together' } };
  }
  return { value: { offset: Number(offset), epoch } };
}

/**
 * `GET /v1/ws`, on the HTTP server's `upgrade` event: the handshake ({@link HandshakeGate}) decides
 * before any WebSocket exists — a refusal is an HTTP response with a JSON body — and an admitted
 * request becomes a session with a {@link WebSocketTransport}. Client frames are parsed here and
 * handed to the session layer; an upgrade that `ws` itself refuses after the admission (a bad
 * `Sec-WebSocket-Version`, say) gives the admission back.
 */
@Injectable()
export class WebSocketEndpoint implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly server = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_CLIENT_FRAME_BYTES,
    perMessageDeflate: false,
    clientTracking: false,
  });
  private readonly sessions = new WeakMap<WebSocket, Session>();
  // Socket listeners shared by every socket (`this` is the socket): a closure per connection would
  // cost memory for as long as it stays open, idle or not.
  private readonly listeners: {
    message: (this: WebSocket, data: RawData, isBinary: boolean) => void;
    pong: (this: WebSocket) => void;
    close: (this: WebSocket, code: number) => void;
  };

  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(HandshakeGate) private readonly gate: HandshakeGate,
    @Inject(SessionService) private readonly service: SessionService,
  ) {
    this.server.on('error', (error) => log.error(`websocket server: ${error.message}`));
    const sessions = this.sessions;
    this.listeners = {
      message(data, isBinary) {
        const session = sessions.get(this);
        if (!session) return;
        session.lastSeen = Date.now();
        if (isBinary) service.refuse(session, 'frames must be JSON text frames');
        else {
          const parsed = parseClientFrame(rawText(data));
          if (parsed.ok) service.handle(session, parsed.frame);
          else service.refuse(session, parsed.message, parsed.channel);
        }
      },
      pong() {
        const session = sessions.get(this);
        if (session) session.lastSeen = Date.now();
      },
      close(code) {
        const session = sessions.get(this);
        if (!session) return;
        sessions.delete(this);
        // This endpoint made the session's transport: it is a WebSocketTransport.
        (session.transport as WebSocketTransport).closeCode = code;
        service.ended(session);
      },
    };
  }

  onApplicationBootstrap(): void {
    const httpServer = this.adapterHost.httpAdapter.getHttpServer() as Server;
    httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade(request, socket, head),
    );
  }

  /** Sessions were already ended by the drain; this only stops the server. */
  async onApplicationShutdown(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', destroySocket);
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname !== WEBSOCKET_PATH) {
      refuseUpgrade(socket, {
        status: 404,
        message: `no WebSocket endpoint at ${url.pathname}; use ${WEBSOCKET_PATH}`,
      });
      return;
    }
    const recovery = readRecovery(url.searchParams);
    this.gate
      .admit(request, url.searchParams, () => recovery)
      .then(
        (result) => {
          if ('refused' in result) refuseUpgrade(socket, result.refused);
          else if (socket.destroyed) this.gate.forget(result.admitted);
          else this.accept(result.admitted, request, socket, head);
        },
        (error: Error) => {
          log.error(`handshake failed: ${error.message}`);
          refuseUpgrade(socket, { status: 500, message: 'handshake failed' });
        },
      );
  }

  private accept(
    admission: Admission<ChannelPosition | undefined>,
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): void {
    // `ws` answers an upgrade it refuses itself (400) and destroys the socket without calling back.
    const giveBack = (): void => this.gate.forget(admission);
    socket.once('close', giveBack);
    this.server.handleUpgrade(request, socket, head, (ws) => {
      socket.off('close', giveBack);
      // From here `ws` owns the socket and its errors.
      socket.off('error', destroySocket);
      ws.on('error', logClientError);
      const recovery = admission.request;
      const session = this.service.start({
        connectionId: admission.connectionId,
        identity: admission.identity,
        transport: new WebSocketTransport(ws, socket),
        recover: recovery ? new Map([[userChannel(admission.identity.userId), recovery]]) : undefined,
      });
      this.sessions.set(ws, session);
      ws.on('message', this.listeners.message);
      ws.on('pong', this.listeners.pong);
      ws.on('close', this.listeners.close);
    });
  }
}

/** An oversize frame or a protocol error makes `ws` emit `error` (then close): never unhandled. */
function logClientError(this: WebSocket, error: Error): void {
  log.debug(`client socket: ${error.message}`);
}

function destroySocket(this: Duplex): void {
  this.destroy();
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}
