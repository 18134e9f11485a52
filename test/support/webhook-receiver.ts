import { createServer, IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { WebhookEvent } from '../../src/protocol/wire';
import { waitUntil } from './wait';

export interface ReceivedWebhook {
  /** The body's bytes as received (what the signature covers). */
  rawBody: string;
  event: WebhookEvent;
  headers: IncomingHttpHeaders;
  receivedAt: number;
}

/** How the receiver answers one request: a status, or no answer at all (until the test closes it). */
export type WebhookAnswer = number | 'hang';

export interface WebhookReceiver {
  /** http://127.0.0.1:<port>/hooks */
  url: string;
  received: ReceivedWebhook[];
  /** The requests received for one event id, in order. */
  attemptsOf(id: string): ReceivedWebhook[];
  /** Waits until `count` requests have arrived (all events together). */
  waitForRequests(count: number, timeoutMs: number): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

/**
 * A webhook endpoint on loopback, like a customer's: records every POST with its raw body and
 * headers and answers as `answer` says (default 204) — e.g. 500 for the first attempt, or hang.
 */
export async function startWebhookReceiver(
  answer: (request: ReceivedWebhook, attemptOfEvent: number) => WebhookAnswer = () => 204,
): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();
  const attemptsOf = (id: string) => received.filter((request) => request.event.id === id);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const request: ReceivedWebhook = {
        rawBody,
        event: JSON.parse(rawBody) as WebhookEvent,
        headers: req.headers,
        receivedAt: Date.now(),
      };
      received.push(request);
      const reply = answer(request, attemptsOf(request.event.id).length);
      if (reply === 'hang') hanging.add(res);
      else res.writeHead(reply).end();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the webhook receiver has no port');
  return {
    url: `http://127.0.0.1:${address.port}/hooks`,
    received,
    attemptsOf,
    waitForRequests: (count, timeoutMs) =>
      waitUntil(() => received.length >= count && received, timeoutMs, `${count} webhook requests`),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      hanging.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
