import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { invalidPublishRequest, PublishRequest, PublishResponse } from './notification';

/**
 * The REST side shared by the peer and the floor, on plain node:http: Herald's publish and batch
 * endpoints (same paths and bodies) and its health probes. The batch endpoint is a loop over the
 * single publish. The floor runs it without key check and without validation.
 */
export interface PublishServerOptions {
  /** Required `Authorization: Bearer` key; undefined = no check. */
  apiKey?: string;
  validate: boolean;
  ready(): boolean;
  publish(body: PublishRequest): Promise<PublishResponse> | PublishResponse;
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) req.destroy(new Error('body too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function createPublishServer(opts: PublishServerOptions): Server {
  const publishOne = async (item: unknown): Promise<PublishResponse | { error: string }> => {
    const invalid = opts.validate ? invalidPublishRequest(item) : undefined;
    return invalid ? { error: invalid } : opts.publish(item as PublishRequest);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/health/live') return send(res, 200, { status: 'ok' });
    if (req.method === 'GET' && path === '/health/ready') {
      return opts.ready() ? send(res, 200, { status: 'ok' }) : send(res, 503, { status: 'unavailable' });
    }
    if (req.method !== 'POST' || (path !== '/v1/notifications' && path !== '/v1/notifications/batch')) {
      return send(res, 404, { statusCode: 404, error: 'Not Found', message: `${req.method} ${path}` });
    }
    if (opts.apiKey !== undefined && req.headers.authorization !== `Bearer ${opts.apiKey}`) {
      return send(res, 401, { statusCode: 401, error: 'Unauthorized', message: 'bad API key' });
    }
    const body = JSON.parse(await readBody(req)) as unknown;
    if (path === '/v1/notifications') {
      const result = await publishOne(body);
      return 'error' in result
        ? send(res, 400, { statusCode: 400, error: 'Bad Request', message: result.error })
        : send(res, 202, result);
    }
    const items = (body as { notifications?: unknown }).notifications;
    if (!Array.isArray(items) || items.length > 1000) {
      return send(res, 400, {
        statusCode: 400,
        error: 'Bad Request',
        message: 'notifications: 1-1000 items',
      });
    }
    send(res, 202, { results: await Promise.all(items.map(publishOne)) });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 400, { statusCode: 400, error: 'Bad Request', message: String(err) });
    });
  });
  server.keepAliveTimeout = 60_000;
  return server;
}

/** Reads a required environment variable of a bench server. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}
