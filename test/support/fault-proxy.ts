import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * What the proxy does to a request instead of relaying it:
 * - `respond`: answers it itself with this status (and `Retry-After` when given), without forwarding
 *   it — a 503 burst, a 429 from a rate limiter in front;
 * - `reset`: forwards it, waits for the upstream's whole answer (so Herald has processed it), then
 *   resets the client's connection instead of relaying the answer — the request was sent and
 *   handled, the publisher never learns the outcome.
 */
export type Fault = { respond: number; retryAfter?: number } | { reset: true };

/** What the proxy saw of one request and did with it. */
export interface ProxiedRequest {
  method: string;
  path: string;
  idempotencyKey?: string;
  bodyBytes: number;
  /** A batch request's item keys, in order. */
  itemKeys?: (string | undefined)[];
  /** A batch request's items' JSON sizes, in order (what Herald measures against MAX_PAYLOAD_BYTES). */
  itemBytes?: number[];
  /** Whether Herald answered `Idempotent-Replayed: true`. */
  replayed: boolean;
  /** The status the client got, or `reset`. */
  outcome: number | 'reset';
  /** Whether Herald saw it. */
  forwarded: boolean;
}

export interface FaultProxy {
  /** http://127.0.0.1:<port> */
  url: string;
  requests: ProxiedRequest[];
  /** Applies `fault` to the next `count` requests whose path starts with `pathPrefix` (default every path). */
  inject(fault: Fault, count?: number, pathPrefix?: string): void;
  /** Forgets the recorded requests and the faults not yet applied. */
  reset(): void;
  close(): Promise<void>;
}

interface PendingFault {
  fault: Fault;
  remaining: number;
  pathPrefix: string;
}

/**
 * An HTTP proxy on loopback in front of one upstream (a Herald), with keep-alive on both sides, that
 * injects faults into chosen requests and records every request.
 */
export async function startFaultProxy(upstreamUrl: string): Promise<FaultProxy> {
  const upstream = new URL(upstreamUrl);
  const agent = new Agent({ keepAlive: true });
  const requests: ProxiedRequest[] = [];
  let faults: PendingFault[] = [];
  const sockets = new Set<Socket>();

  const takeFault = (path: string): Fault | undefined => {
    const pending = faults.find(
      (candidate) => candidate.remaining > 0 && path.startsWith(candidate.pathPrefix),
    );
    if (!pending) return undefined;
    pending.remaining -= 1;
    return pending.fault;
  };

  const forward = (
    incoming: IncomingMessage,
    body: Buffer,
  ): Promise<{ response: IncomingMessage; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const outgoing = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: incoming.method,
          path: incoming.url,
          headers: { ...incoming.headers, host: upstream.host },
          agent,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ response, body: Buffer.concat(chunks) }));
          response.on('error', reject);
        },
      );
      outgoing.on('error', reject);
      outgoing.end(body);
    });

  const handle = async (incoming: IncomingMessage, outgoing: ServerResponse, body: Buffer): Promise<void> => {
    const path = incoming.url ?? '/';
    const record: ProxiedRequest = {
      method: incoming.method ?? '',
      path,
      idempotencyKey: incoming.headers['idempotency-key'] as string | undefined,
      bodyBytes: body.length,
      ...(path.startsWith('/v1/notifications/batch') ? itemsOf(body) : {}),
      replayed: false,
      outcome: 0,
      forwarded: false,
    };
    requests.push(record);
    const fault = takeFault(path);
    if (fault && 'respond' in fault) {
      record.outcome = fault.respond;
      const answer = JSON.stringify({
        statusCode: fault.respond,
        error: 'Injected',
        message: 'fault injected by the proxy',
      });
      outgoing.writeHead(fault.respond, {
        'content-type': 'application/json',
        ...(fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) }),
      });
      outgoing.end(answer);
      return;
    }
    const { response, body: answer } = await forward(incoming, body);
    record.forwarded = true;
    record.replayed = response.headers['idempotent-replayed'] === 'true';
    if (fault) {
      record.outcome = 'reset';
      incoming.socket.resetAndDestroy();
      return;
    }
    record.outcome = response.statusCode ?? 0;
    const headers = { ...response.headers };
    delete headers['transfer-encoding'];
    delete headers.connection;
    outgoing.writeHead(response.statusCode ?? 502, { ...headers, 'content-length': String(answer.length) });
    outgoing.end(answer);
  };

  const server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      handle(incoming, outgoing, Buffer.concat(chunks)).catch(() => incoming.socket.destroy());
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    inject: (fault, count = 1, pathPrefix = '/') => void faults.push({ fault, remaining: count, pathPrefix }),
    reset: () => {
      requests.length = 0;
      faults = [];
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

function itemsOf(body: Buffer): Pick<ProxiedRequest, 'itemKeys' | 'itemBytes'> {
  try {
    const parsed = JSON.parse(body.toString()) as { notifications?: { idempotencyKey?: string }[] };
    const items = parsed.notifications ?? [];
    return {
      itemKeys: items.map((item) => item.idempotencyKey),
      itemBytes: items.map((item) => Buffer.byteLength(JSON.stringify(item))),
    };
  } catch {
    return {};
  }
}
