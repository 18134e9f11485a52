import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import WebSocket from 'ws';
import { OTHER_API_KEY, startApp, TEST_API_KEY, TEST_JWT_SECRET, TestApp } from '../support/app';
import { aNotification, aToken, aUserId, connect, publish, TestClient } from '../support/client';
import { httpRequest } from '../support/http';
import { startRedis, TestRedis } from '../support/redis';

/**
 * Property-based: generated REST bodies, headers, query strings, WebSocket frames and token claims
 * are thrown at a running replica, and after every run the invariants are checked — no 5xx but 503,
 * every error in the `{statusCode, error, message}` shape, no crash, the replica still delivers to a
 * well-behaved client, and one user never sees another's notification, also for ids that differ only
 * in how they encode. Inside `npm test` each property has PROPERTY_RUNS runs (default 40) and at most
 * PROPERTY_TIME_MS (default 3000 ms); for a longer run by hand:
 *   PROPERTY_RUNS=2000 PROPERTY_TIME_MS=120000 npx jest test/e2e/property.e2e-spec.ts
 */
const RUNS = Number(process.env.PROPERTY_RUNS ?? 200);
const TIME_MS = Number(process.env.PROPERTY_TIME_MS ?? 3000);
const READ_KEY = 'property-read-key';
// Jest's own limit for one property: its time budget, the checks after it, and headroom.
jest.setTimeout(TIME_MS + 30_000);
const assertOptions: fc.Parameters<unknown> = {
  numRuns: RUNS,
  interruptAfterTimeLimit: TIME_MS,
  markInterruptAsFailure: false,
};

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
const ERROR_KEYS = ['error', 'message', 'statusCode'];
const ERROR_CODES = ['bad_request', 'forbidden', 'too_many_subscriptions', 'internal'];

/** Node's HTTP client accepts these in a header value (latin1 without controls but HTAB). */
const HEADER_SAFE = /^[\t\x20-\x7e\x80-\xff]*$/;

const nested = (levels: number, leaf = '1'): string => `${'['.repeat(levels)}${leaf}${']'.repeat(levels)}`;

/** Strings a client might send as an id: anything, including lone surrogates and look-alikes. */
const hostileString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  fc.constantFrom(
    '',
    '\ud800',
    '\udc00',
    '\ufffd',
    'e\u0301',
    '\u00e9',
    '\u0000',
    '\u202e',
    ' ',
    'user:',
    'topic:*',
    'broadcast',
    '__proto__',
    'x'.repeat(201),
  ),
);

const jsonish = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  // Deep enough to pass the payload limit, shallow enough for fast-check to print a counterexample.
  fc.integer({ min: 90, max: 1000 }).map((levels) => JSON.parse(nested(levels)) as unknown),
  hostileString,
);

const publishLike = fc.record(
  {
    users: fc.oneof(fc.array(hostileString, { maxLength: 4 }), jsonish),
    topics: fc.oneof(fc.array(hostileString, { maxLength: 3 }), jsonish),
    broadcast: fc.oneof(fc.boolean(), jsonish),
    type: fc.oneof(hostileString, jsonish),
    payload: jsonish,
    idempotencyKey: fc.oneof(hostileString, jsonish),
    extra: jsonish,
  },
  { requiredKeys: [] },
);

const restBody = fc.oneof(
  publishLike.map((body) => JSON.stringify(body)),
  fc
    .tuple(
      fc.constantFrom('users', 'topics', 'type', 'payload', 'broadcast'),
      fc.integer({ min: 90, max: 200_000 }),
    )
    .map(([field, levels]) =>
      JSON.stringify({ ...aNotification(['deep']), [field]: 0 }).replace('0', nested(levels)),
    ),
  fc.array(publishLike, { maxLength: 4 }).map((items) => JSON.stringify({ notifications: items })),
  jsonish.map((value) => JSON.stringify(value) ?? 'null'),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc
    .integer({ min: 100, max: 200_000 })
    .map((levels) => `{"users":["a"],"type":"t","payload":${nested(levels)}}`),
);

const headerValue = fc
  .string({ unit: 'binary-ascii', maxLength: 40 })
  .filter((value) => HEADER_SAFE.test(value));

/** Mostly what a real publisher sends, so that generated bodies get past the parser and the key. */
const contentType = fc.oneof(
  { arbitrary: fc.constant('application/json'), weight: 6 },
  {
    arbitrary: fc.constantFrom(
      undefined,
      'application/json; charset=utf-8',
      'application/json;charset="UTF-8"',
      'application/json; charset=latin1',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/jsonx',
    ),
    weight: 3,
  },
  { arbitrary: headerValue, weight: 1 },
);

const authorization = fc.oneof(
  { arbitrary: fc.constant(`Bearer ${TEST_API_KEY}`), weight: 6 },
  {
    arbitrary: fc.constantFrom(
      undefined,
      `bearer ${TEST_API_KEY}`,
      `Bearer ${READ_KEY}`,
      `Bearer ${TEST_API_KEY}\u00a0`,
      `Bearer \u00a0${TEST_API_KEY}`,
      `Bearer  ${TEST_API_KEY}`,
      'Bearer',
      `Basic ${TEST_API_KEY}`,
    ),
    weight: 3,
  },
  { arbitrary: headerValue, weight: 1 },
);

/** Query strings and path segments of printable ASCII, with broken and overlong percent-encodings. */
const urlPiece = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '%',
        '%zz',
        '%ED%A0%80',
        '%EF%BF%BD',
        '%00',
        '%C0%AF',
        '+',
        '&&',
        '=',
        'access_token=',
        'acc%65ss_token=x',
      ),
      fc.string({ unit: fc.constantFrom(...'abcXYZ019_-.~:=&+;!$()*,@'.split('')), maxLength: 8 }),
      hostileString.map(encodeLoosely),
    ),
    { maxLength: 6 },
  )
  .map((parts) => parts.join(''));

function encodeLoosely(value: string): string {
  return [...value]
    .map((char) => {
      try {
        return encodeURIComponent(char);
      } catch {
        return '%ED%A0%80';
      }
    })
    .join('');
}

const base64url = (value: string): string => Buffer.from(value).toString('base64url');

/** A JWT with these claims and header, HMAC-signed with the test secret (or not signed at all). */
function signRaw(header: Record<string, unknown>, claims: unknown, signed: boolean): string {
  const unsigned = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims) ?? 'null')}`;
  const signature = signed ? createHmac('sha256', TEST_JWT_SECRET).update(unsigned).digest('base64url') : '';
  return `${unsigned}.${signature}`;
}

const now = () => Math.floor(Date.now() / 1000);
const tokenCase = fc.record({
  header: fc.oneof(
    fc.constant({ alg: 'HS256', typ: 'JWT' }),
    fc.record({
      alg: fc.constantFrom('HS256', 'HS512', 'none', 'RS256', 'ES256', 'EdDSA'),
      kid: fc.option(hostileString),
    }),
  ),
  claims: fc.oneof(
    fc.record(
      {
        sub: fc.oneof(hostileString, jsonish),
        exp: fc.oneof(fc.constant(now() + 600), fc.constant(now() - 10), jsonish),
        topics: fc.oneof(fc.array(hostileString, { maxLength: 3 }), jsonish),
        iss: jsonish,
        aud: jsonish,
      },
      { requiredKeys: [] },
    ),
    jsonish,
  ),
  signed: fc.boolean(),
  garbage: fc.option(fc.string({ unit: 'binary-ascii', maxLength: 60 }), { freq: 5 }),
});

/** Pairs of ids that differ only in how they would be encoded (UTF-8 of lone surrogates, normalization). */
const encodingTwins = fc
  .tuple(
    fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 8 }),
    fc.constantFrom<[string, string]>(
      ['\ud800', '\ufffd'],
      ['\udc00', '\ufffd'],
      ['\udbff', '\ufffd'],
      ['\udfff\ud800', '\ufffd\ufffd'],
      ['\ud83d', '\ufffd'],
      ['e\u0301', '\u00e9'],
      ['\u00e9', 'e\u0301'],
      ['\ufffd\ufffd', '\ufffd'],
    ),
    fc.boolean(),
  )
  .map(([base, [a, b], atStart]) => {
    const unique = aUserId('twin');
    return atStart
      ? { a: `${a}${base}${unique}`, b: `${b}${base}${unique}` }
      : { a: `${base}${unique}${a}`, b: `${base}${unique}${b}` };
  });

const isWellFormedId = (id: string): boolean => !/[\ud800-\udfff]/u.test(id) && !CONTROL_CHARS.test(id);

function expectErrorShape(status: number, text: string): void {
  expect(status >= 500 && status !== 503).toBe(false);
  if (status < 400) return;
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(ERROR_KEYS);
  expect(body.statusCode).toBe(status);
  expect(typeof body.error).toBe('string');
  expect(typeof body.message).toBe('string');
}

/** The outcome of an upgrade: the `ready` frame, or the refusal's status and body. */
function tryUpgrade(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ ready?: Record<string, unknown>; status?: number; text?: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error('no answer to the upgrade within 5 s'));
    }, 5000);
    socket.on('error', () => undefined);
    socket.once('message', (data: Buffer) => {
      clearTimeout(timer);
      socket.close();
      resolve({ ready: (JSON.parse(data.toString()) as { data: Record<string, unknown> }).data });
    });
    socket.once('unexpected-response', (_request, response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        clearTimeout(timer);
        resolve({ status: response.statusCode ?? 0, text });
      });
    });
  });
}

describe.each([
  ['the embedded engine', false],
  ['the Redis engine', true],
])('properties on %s', (_engine, withRedis) => {
  let redis: TestRedis | undefined;
  let app: TestApp;
  let exited = false;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    redis = withRedis ? await startRedis() : undefined;
    app = await startApp({
      REDIS_URL: redis?.url,
      MAX_PAYLOAD_BYTES: '1048576',
      API_KEYS: `test:${TEST_API_KEY},other:${OTHER_API_KEY},reader:${READ_KEY}:read`,
    });
    void app.exited.then(() => (exited = true));
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await app?.kill();
    await redis?.stop();
  });

  /** After a property: the process runs, and a well-behaved client still gets its notification. */
  afterEach(async () => {
    expect(exited).toBe(false);
    const user = aUserId('well-behaved');
    const client = await connect(app, aToken({ sub: user }));
    clients.push(client);
    expect((await publish(app, aNotification([user], { ok: true }))).status).toBe(202);
    expect((await client.waitForNotifications(1))[0].payload).toEqual({ ok: true });
    await client.close();
    expect(app.output()).not.toMatch(/Maximum call stack|unexpected error/);
  });

  it('answers generated REST requests without a 5xx (but 503), in the documented shape', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/v1/notifications', '/v1/notifications/batch'),
        restBody,
        contentType,
        authorization,
        fc.option(headerValue, { nil: undefined }),
        async (path, body, type, auth, idempotencyKey) => {
          const headers: Record<string, string> = {};
          if (type !== undefined) headers['content-type'] = type;
          if (auth !== undefined) headers.authorization = auth;
          if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
          const response = await httpRequest('POST', `${app.url}${path}`, { headers, body });
          expectErrorShape(response.status, response.text);
          if (response.status === 202 && path.endsWith('batch')) {
            for (const result of (JSON.parse(response.text) as { results: Record<string, unknown>[] })
              .results) {
              if ('error' in result) {
                const error = result.error as { statusCode: number };
                expectErrorShape(error.statusCode, JSON.stringify(error));
              }
            }
          }
        },
      ),
      assertOptions,
    );
  });

  it('answers generated paths and query strings without a 5xx (but 503), in the documented shape', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/v1/channels/user:', '/v1/channels/', '/v1/presence/', '/health/', '/v1/', '/'),
        urlPiece,
        fc.constantFrom('/history', ''),
        urlPiece,
        authorization,
        async (prefix, segment, suffix, query, auth) => {
          const path = `${prefix}${segment}${prefix.startsWith('/v1/channels') ? suffix : ''}?${query}`;
          const response = await httpRequest('GET', `${app.url}${path}`, {
            headers: auth === undefined ? {} : { authorization: auth },
          });
          if (path.startsWith('/health') || path.startsWith('/metrics')) return;
          expectErrorShape(response.status, response.text);
        },
      ),
      assertOptions,
    );
  });

  it('keeps a connection open and answering through generated frames', async () => {
    const client = await connect(app, aToken({ topics: ['orders.*'] }));
    clients.push(client);
    const frame = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      jsonish.map((value) => JSON.stringify(value) ?? 'null'),
      fc
        .record({
          event: fc.oneof(
            fc.constantFrom('subscribe', 'unsubscribe', 'ping', 'refresh', 'ack', 'constructor'),
            hostileString,
          ),
          data: fc.oneof(
            fc.record(
              {
                channel: fc.oneof(
                  hostileString.map((s) => `topic:${s}`),
                  hostileString.map((s) => `user:${s}`),
                  hostileString,
                  jsonish,
                ),
                offset: jsonish,
                epoch: jsonish,
                token: fc.oneof(hostileString, jsonish),
              },
              { requiredKeys: [] },
            ),
            jsonish,
          ),
        })
        .map((value) => JSON.stringify(value)),
      fc.integer({ min: 100, max: 7000 }).map((levels) => `{"event":"subscribe","data":${nested(levels)}}`),
    );
    await fc.assert(
      fc.asyncProperty(frame, fc.boolean(), async (text, binary) => {
        const seen = client.frames.length;
        client.socket.send(binary ? Buffer.from(text) : text);
        client.send('ping', {});
        await client.nextFrame('pong');
        expect(client.socket.readyState).toBe(WebSocket.OPEN);
        for (const answer of client.frames.slice(seen)) {
          if (answer.event === 'error') {
            expect(ERROR_CODES).toContain(answer.data.code);
            expect(typeof answer.data.message).toBe('string');
          } else {
            expect(['pong', 'subscribed', 'unsubscribed', 'refreshed', 'notification']).toContain(
              answer.event,
            );
          }
        }
      }),
      assertOptions,
    );
  });

  it('admits a generated token only for a valid, signed, unexpired HS256 token, as its own user', async () => {
    await fc.assert(
      fc.asyncProperty(tokenCase, fc.boolean(), async ({ header, claims, signed, garbage }, inHeader) => {
        const token = garbage ?? signRaw(header, claims, signed);
        const outcome = inHeader
          ? HEADER_SAFE.test(token)
            ? await tryUpgrade(`${app.wsUrl}`, { authorization: `Bearer ${token}` })
            : undefined
          : await tryUpgrade(`${app.wsUrl}?access_token=${encodeURIComponent(token)}`);
        if (!outcome) return;
        if (outcome.ready) {
          const accepted = claims as { sub: unknown; exp: unknown };
          expect(garbage).toBeNull();
          expect(signed && header.alg === 'HS256').toBe(true);
          expect(outcome.ready.userId).toBe(accepted.sub);
          expect(typeof accepted.sub === 'string' && isWellFormedId(accepted.sub)).toBe(true);
          expect(typeof accepted.exp === 'number' && accepted.exp > now() - 5).toBe(true);
        } else {
          expect([400, 401, 429, 503]).toContain(outcome.status);
          expectErrorShape(outcome.status ?? 0, outcome.text ?? '');
        }
      }),
      assertOptions,
    );
  });

  it('never lets one user see another’s notification, for ids that differ only in how they encode', async () => {
    await fc.assert(
      fc.asyncProperty(encodingTwins, async ({ a, b }) => {
        const twin = await connect(app, aToken({ sub: b }));
        const own = isWellFormedId(a) ? await connect(app, aToken({ sub: a })) : undefined;
        try {
          const sent = await publish(app, aNotification([a], { for: a }));
          expect(sent.status).toBe(isWellFormedId(a) ? 202 : 400);
          expect((await publish(app, aNotification([b], { marker: b }))).status).toBe(202);
          await twin.waitForNotifications(1);
          expect(twin.notifications().map((n) => n.payload)).toEqual([{ marker: b }]);
          if (own) expect((await own.waitForNotifications(1))[0].payload).toEqual({ for: a });
        } finally {
          await Promise.all([twin.close(), own?.close()]);
        }
      }),
      assertOptions,
    );
  });
});
