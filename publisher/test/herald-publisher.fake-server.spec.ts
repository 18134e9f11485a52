import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { HeraldError } from '../src/errors';
import { HeraldPublisher, type HeraldPublisherOptions, type RetryEvent } from '../src/herald-publisher';
import type { BatchBody, BatchItemResult } from '../src/wire';

/** What the fake Herald saw of one request. */
interface Seen {
  method: string;
  url: string;
  idempotencyKey?: string;
  body: string;
}

type Handler = (request: Seen, response: ServerResponse) => void;

/** An HTTP server on loopback that answers each request with the next scripted handler. */
async function startFakeHerald(
  handlers: Handler[],
): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer((request: IncomingMessage, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const entry: Seen = {
        method: request.method ?? '',
        url: request.url ?? '',
        idempotencyKey: request.headers['idempotency-key'] as string | undefined,
        body,
      };
      seen.push(entry);
      const handler = handlers.shift();
      if (handler) handler(entry, response);
      else
        json(response, 500, { statusCode: 500, error: 'Internal Server Error', message: 'no handler left' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req-1', ...headers });
  response.end(JSON.stringify(body));
}

const accepted = (id: string) => ({ id, deliveries: [{ channel: 'user:alice', offset: 1, epoch: 'e' }] });
const unavailable = { statusCode: 503, error: 'Service Unavailable', message: 'engine unavailable' };
const aNotification = (n: number) => ({ users: [`user-${n}`], type: 'test.event', payload: { n } });

/** Answers a batch with `result(item, i)` per item. */
const batchAnswer =
  (result: (item: BatchBody['notifications'][number], index: number) => BatchItemResult): Handler =>
  (request, response) => {
    const { notifications } = JSON.parse(request.body) as BatchBody;
    json(response, 202, { results: notifications.map(result) });
  };

describe(HeraldPublisher.name, () => {
  let fake: Awaited<ReturnType<typeof startFakeHerald>> | undefined;
  const retries: RetryEvent[] = [];
  const aPublisher = (url: string, options: Partial<HeraldPublisherOptions> = {}) =>
    new HeraldPublisher({
      url,
      apiKey: 'key',
      retry: { baseDelayMs: 5, maxDelayMs: 20 },
      deadlineMs: 5000,
      onRetry: (event) => retries.push(event),
      ...options,
    });

  afterEach(async () => {
    retries.length = 0;
    await fake?.close();
    fake = undefined;
  });

  it('sends again, under the same item keys, only the batch items Herald answered with a 503', async () => {
    fake = await startFakeHerald([
      batchAnswer((item, i) => (i % 2 === 0 ? accepted(`id-${i}`) : { error: unavailable })),
      batchAnswer((item) => accepted(`again-${item.idempotencyKey}`)),
    ]);
    const sut = aPublisher(fake.url);

    const result = await sut.notifyMany([0, 1, 2, 3].map(aNotification), { idempotencyKey: 'call' });

    const [first, second] = fake.seen.map((request) => JSON.parse(request.body) as BatchBody);
    expect(first.notifications.map((item) => item.idempotencyKey)).toEqual([
      'call:0',
      'call:1',
      'call:2',
      'call:3',
    ]);
    expect(second.notifications.map((item) => item.idempotencyKey)).toEqual(['call:1', 'call:3']);
    expect(result.results.map((item) => ('error' in item ? item.error : item.id))).toEqual([
      'id-0',
      'again-call:1',
      'id-2',
      'again-call:3',
    ]);
    expect(result.retries).toBe(1);
    expect(retries).toEqual([expect.objectContaining({ retry: 1, status: 503, items: 2 })]);
  });

  it('keeps a final item error (400) as that item result and publishes the others', async () => {
    fake = await startFakeHerald([
      batchAnswer((item, i) =>
        i === 1
          ? { error: { statusCode: 400, error: 'Bad Request', message: 'type must be 1-100 characters' } }
          : accepted(`id-${i}`),
      ),
    ]);
    const sut = aPublisher(fake.url);

    const { results, retries: count } = await sut.notifyMany([0, 1, 2].map(aNotification));

    const failed = results[1];
    expect('error' in failed && failed.error).toMatchObject({
      kind: 'http',
      status: 400,
      message: 'type must be 1-100 characters',
    });
    expect(results.filter((item) => !('error' in item))).toHaveLength(2);
    expect(count).toBe(0);
  });

  it('does not retry a 422 (same key, different body) and carries status, error, message and request id', async () => {
    fake = await startFakeHerald([
      (_, response) =>
        json(response, 422, {
          statusCode: 422,
          error: 'Unprocessable Entity',
          message: 'Idempotency-Key was already used with a different request body',
        }),
    ]);
    const sut = aPublisher(fake.url);

    const error = await sut
      .notify(aNotification(1), { idempotencyKey: 'reused' })
      .catch((thrown: unknown) => thrown);

    expect(error).toBeInstanceOf(HeraldError);
    expect(error).toMatchObject({
      kind: 'http',
      status: 422,
      error: 'Unprocessable Entity',
      message: 'Idempotency-Key was already used with a different request body',
      requestId: 'req-1',
      retries: 0,
    });
    expect(fake.seen).toHaveLength(1);
  });

  it('retries a 409 (same key in progress elsewhere) and a non-JSON 502 from a proxy, with the same key', async () => {
    fake = await startFakeHerald([
      (_, response) => json(response, 409, { statusCode: 409, error: 'Conflict', message: 'in progress' }),
      (_, response) => {
        response.writeHead(502, { 'content-type': 'text/html' });
        response.end('<html>Bad Gateway</html>');
      },
      (_, response) => json(response, 202, accepted('the-id')),
    ]);
    const sut = aPublisher(fake.url);

    const result = await sut.notify(aNotification(1));

    expect(result).toMatchObject({ id: 'the-id', ids: ['the-id'], retries: 2 });
    expect(new Set(fake.seen.map((request) => request.idempotencyKey))).toEqual(
      new Set([result.idempotencyKey]),
    );
    expect(retries.map((event) => [event.status, event.message])).toEqual([
      [409, 'in progress'],
      [502, 'HTTP 502: <html>Bad Gateway</html>'],
    ]);
  });

  it('gives up at the deadline with the last answer, not before trying', async () => {
    fake = await startFakeHerald(
      Array.from(
        { length: 100 },
        () => (_: Seen, response: ServerResponse) => json(response, 503, unavailable),
      ),
    );
    const sut = aPublisher(fake.url, { deadlineMs: 300 });
    const started = Date.now();

    const error = await sut.notify(aNotification(1)).catch((thrown: unknown) => thrown);

    expect(error).toMatchObject({ kind: 'deadline', status: 503, error: 'Service Unavailable' });
    // Every retry it reports was announced, and it made as many attempts as it says: the server saw
    // them all but for at most two — the one the deadline cut short, and one whose connection dropped
    // (CI saw 21 retries and 20 requests).
    const reported = (error as HeraldError).retries;
    expect(reported).toBeGreaterThan(0);
    expect(reported).toBe(retries.length);
    expect(fake.seen.length).toBeLessThanOrEqual(reported + 1);
    expect(fake.seen.length).toBeGreaterThanOrEqual(reported - 1);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('reports the last answer, not the cut-off attempt, when the deadline ends an attempt that hangs', async () => {
    fake = await startFakeHerald([
      (_, response) => json(response, 503, unavailable),
      () => undefined, // never answers
    ]);
    const sut = aPublisher(fake.url, { deadlineMs: 300 });

    const error = await sut.notify(aNotification(1)).catch((thrown: unknown) => thrown);

    expect(error).toMatchObject({ kind: 'deadline', status: 503, error: 'Service Unavailable', retries: 1 });
    expect(fake.seen).toHaveLength(2);
  });

  it('turns "fetch failed" into a network HeraldError naming the cause', async () => {
    fake = await startFakeHerald([]);
    const url = fake.url;
    await fake.close();
    fake = undefined;
    const sut = aPublisher(url, { retry: { maxRetries: 1, baseDelayMs: 1 } });

    const error = await sut.presence('alice').catch((thrown: unknown) => thrown);

    expect(error).toBeInstanceOf(HeraldError);
    expect(error).toMatchObject({ kind: 'network', status: 0, error: 'Network Error', retries: 1 });
    expect((error as HeraldError).message).toContain('ECONNREFUSED');
  });

  it('stops retrying when the caller aborts', async () => {
    fake = await startFakeHerald([
      (_, response) => json(response, 503, unavailable, { 'retry-after': '30' }),
    ]);
    const sut = aPublisher(fake.url, { deadlineMs: 60_000 });
    const controller = new AbortController();
    const call = sut
      .notify(aNotification(1), { signal: controller.signal })
      .catch((thrown: unknown) => thrown);
    await new Promise<void>((resolve) => {
      const check = () => (retries.length > 0 ? resolve() : setTimeout(check, 5));
      check();
    });

    controller.abort();

    expect(await call).toMatchObject({ kind: 'aborted', retries: 1 });
  });

  it('refuses locally, sending nothing, an Idempotency-Key that cannot be an HTTP header', async () => {
    fake = await startFakeHerald([]);
    const sut = aPublisher(fake.url);

    for (const idempotencyKey of ['', 'k'.repeat(201), 'prix-€']) {
      await expect(sut.notify(aNotification(1), { idempotencyKey })).rejects.toMatchObject({
        kind: 'local',
        message: 'idempotencyKey must be 1-200 printable ASCII characters',
      });
    }
    expect(fake.seen).toEqual([]);
  });

  it('refuses a batch answer without one result per item, without retrying it', async () => {
    fake = await startFakeHerald([(_, response) => json(response, 202, { results: [accepted('only-one')] })]);
    const sut = aPublisher(fake.url);

    await expect(sut.notifyMany([1, 2].map(aNotification))).rejects.toMatchObject({
      kind: 'http',
      error: 'Bad Response',
    });
    expect(fake.seen).toHaveLength(1);
  });

  it('encodes channel and user ids in paths and sends the API key', async () => {
    fake = await startFakeHerald([
      (_, response) =>
        json(response, 200, { channel: 'topic:a/b', epoch: 'e', offset: 0, notifications: [] }),
      (_, response) => json(response, 200, { userId: 'a b', online: false, connections: 0 }),
      (_, response) => json(response, 200, { id: 'n', users: [] }),
    ]);
    const sut = aPublisher(fake.url);

    await sut.history('topic:a/b', { after: 3, limit: 10 });
    await sut.presence('a b');
    await sut.status('n');

    expect(fake.seen.map((request) => `${request.method} ${request.url}`)).toEqual([
      'GET /v1/channels/topic%3Aa%2Fb/history?after=3&limit=10',
      'GET /v1/presence/a%20b',
      'GET /v1/notifications/n/status',
    ]);
  });
});
