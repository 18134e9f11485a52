import { OTHER_API_KEY } from '../support/app';
import { aNotification, aUserId, post, publish } from '../support/client';
import { httpRequest } from '../support/http';
import { InProcessApp, startInProcessApp } from '../support/in-process';

const RATE_LIMIT = 3;
const MAX_PAYLOAD_BYTES = 4096;

/**
 * `POST /v1/notifications` answers as every other route: errors in the one `{statusCode, error,
 * message}` shape whatever refuses the request (Fastify's body parsing, the validation, the rate
 * limit), the rate-limit headers, and a budget shared with the batch route.
 */
const errorBody = (status: number, error: string, message: unknown) => ({
  statusCode: status,
  error,
  message,
});

describe('the single-publish route', () => {
  let app: InProcessApp;

  beforeAll(async () => {
    app = await startInProcessApp({ env: { MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES) } });
  });
  afterAll(() => app?.close());

  it.each([
    ['a JSON array', '[1]', 'the body must be a JSON object'],
    ['JSON null', 'null', 'the body must be a JSON object'],
    ['malformed JSON', '{"type":', expect.any(String)],
    [
      'an unknown field',
      JSON.stringify({ ...aNotification(['u']), extra: 1 }),
      'property extra should not exist',
    ],
  ])('refuses %s with 400 in the error shape', async (_case, body, message) => {
    const response = await publish(app, body);
    expect(response.status).toBe(400);
    expect(response.body).toEqual(errorBody(400, 'Bad Request', message));
  });

  it('refuses a body that is not JSON with 415 and one over MAX_PAYLOAD_BYTES with 413, in the error shape', async () => {
    const text = await httpRequest('POST', `${app.url}/v1/notifications`, {
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${OTHER_API_KEY}` },
      body: 'hello',
    });
    expect(text.status).toBe(415);
    expect(JSON.parse(text.text)).toEqual(errorBody(415, 'Unsupported Media Type', expect.any(String)));
    const large = await publish(app, aNotification(['u'], 'x'.repeat(MAX_PAYLOAD_BYTES)));
    expect(large.status).toBe(413);
    expect(large.body).toEqual(errorBody(413, 'Payload Too Large', expect.any(String)));
  });
});

describe('the single-publish route with PUBLISH_RATE_LIMIT', () => {
  let app: InProcessApp;

  beforeAll(async () => {
    app = await startInProcessApp({ env: { PUBLISH_RATE_LIMIT: String(RATE_LIMIT) } });
  });
  afterAll(() => app?.close());

  it('sends the rate-limit headers and shares one budget with the batch route: then 429 with Retry-After', async () => {
    const user = aUserId();
    const single = () => publish(app, aNotification([user]), { apiKey: OTHER_API_KEY });
    // Sent together, so that all of them fall into the one-second window the first one opens.
    const batch = post(
      app,
      '/v1/notifications/batch',
      { notifications: [aNotification([user])] },
      { apiKey: OTHER_API_KEY },
    );
    const responses = await Promise.all([single(), single(), batch, single(), single()]);
    const admitted = responses.filter((response) => response.status === 202);
    expect(admitted).toHaveLength(RATE_LIMIT);
    for (const response of admitted) {
      expect(response.headers['x-ratelimit-limit']).toBe(String(RATE_LIMIT));
      expect(response.headers['x-ratelimit-reset']).toBe('1');
    }
    expect(admitted.map((response) => response.headers['x-ratelimit-remaining']).sort()).toEqual([
      '0',
      '1',
      '2',
    ]);
    const limited = responses.filter((response) => response.status === 429);
    expect(limited).toHaveLength(responses.length - RATE_LIMIT);
    for (const response of limited) {
      expect(response.headers['retry-after']).toBe('1');
      expect(response.headers['x-ratelimit-limit']).toBeUndefined();
      expect(response.body).toEqual(
        errorBody(
          429,
          'Too Many Requests',
          'publish rate limit reached (PUBLISH_RATE_LIMIT per second per API key); see Retry-After',
        ),
      );
    }
  });
});
