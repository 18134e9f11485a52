import { createHmac } from 'node:crypto';
import { signWebhook } from '../../src/webhooks/webhook-signature';
import { verifyWebhook, WebhookVerificationError } from '../src/webhooks';
import type { WebhookEvent } from '../src/wire';

const SECRET = 'whsec-0123456789abcdef';
const NOW = Date.parse('2026-12-01T12:00:00Z');
const anEvent = (): WebhookEvent => ({
  id: '5b0f8e55-6f0a-4d7e-9a55-2b8f1c4c9e01',
  type: 'notification.pushed',
  createdAt: '2026-12-01T11:59:59.000Z',
  data: { notificationId: 'n-1', userId: 'alice', subscriptions: 2 },
});
/** The body exactly as Herald sends it, and its header signed at `t`. */
const aSignedBody = (t = NOW, secret = SECRET) => {
  const body = JSON.stringify(anEvent());
  return { body, header: signWebhook(secret, body, t) };
};

/** The reason verifyWebhook gave for refusing, or 'verified'. */
function reasonOf(run: () => unknown): string {
  try {
    run();
    return 'verified';
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error.reason;
    throw error;
  }
}

describe(verifyWebhook.name, () => {
  it('returns the event of a body Herald signed, as a string or as bytes', () => {
    const { body, header } = aSignedBody();
    expect(verifyWebhook(body, header, SECRET, { now: NOW })).toEqual(anEvent());
    expect(verifyWebhook(Buffer.from(body), header, SECRET, { now: NOW })).toEqual(anEvent());
    expect(verifyWebhook(new TextEncoder().encode(body), header, SECRET, { now: NOW })).toEqual(anEvent());
  });

  it('refuses a body changed by one byte, or re-serialized', () => {
    const { body, header } = aSignedBody();
    expect(reasonOf(() => verifyWebhook(body.replace('alice', 'alicf'), header, SECRET, { now: NOW }))).toBe(
      'mismatch',
    );
    const reserialized = JSON.stringify(JSON.parse(body), null, 2);
    expect(reasonOf(() => verifyWebhook(reserialized, header, SECRET, { now: NOW }))).toBe('mismatch');
  });

  it('refuses another secret, and accepts either of two during a rotation', () => {
    const { body, header } = aSignedBody();
    expect(reasonOf(() => verifyWebhook(body, header, 'another-secret-0123', { now: NOW }))).toBe('mismatch');
    expect(verifyWebhook(body, header, ['another-secret-0123', SECRET], { now: NOW }).id).toBe(anEvent().id);
  });

  it('refuses a timestamp that was not signed (t swapped for a fresh one)', () => {
    const { body, header } = aSignedBody(NOW - 3_600_000);
    const replayed = header.replace(/^t=\d+/, `t=${NOW}`);
    expect(reasonOf(() => verifyWebhook(body, replayed, SECRET, { now: NOW }))).toBe('mismatch');
  });

  it('takes a timestamp within the tolerance either way, and refuses one outside it', () => {
    const within = aSignedBody(NOW - 299_000);
    expect(reasonOf(() => verifyWebhook(within.body, within.header, SECRET, { now: NOW }))).toBe('verified');
    const old = aSignedBody(NOW - 301_000);
    expect(reasonOf(() => verifyWebhook(old.body, old.header, SECRET, { now: NOW }))).toBe('stale');
    const future = aSignedBody(NOW + 301_000);
    expect(reasonOf(() => verifyWebhook(future.body, future.header, SECRET, { now: NOW }))).toBe('stale');
    expect(
      reasonOf(() => verifyWebhook(old.body, old.header, SECRET, { now: NOW, toleranceMs: 600_000 })),
    ).toBe('verified');
  });

  it.each([
    [undefined, 'no_signature'],
    ['', 'no_signature'],
    ['v1=' + 'a'.repeat(64), 'malformed_signature'],
    [`t=${NOW}`, 'malformed_signature'],
    [`t=${NOW},v1=xyz`, 'malformed_signature'],
    [`t=soon,v1=${'a'.repeat(64)}`, 'malformed_signature'],
  ])('refuses the header %j: %s', (header, reason) => {
    expect(reasonOf(() => verifyWebhook(aSignedBody().body, header, SECRET, { now: NOW }))).toBe(reason);
  });

  it('finds the v1 among several entries and other schemes, in a header given once or as a list', () => {
    const { body, header } = aSignedBody();
    const [t, v1] = header.split(',');
    const wrong = `v1=${'0'.repeat(64)}`;
    expect(verifyWebhook(body, `${t}, ${wrong}, v2=abc, ${v1}`, SECRET, { now: NOW }).id).toBe(anEvent().id);
    expect(verifyWebhook(body, [t, v1], SECRET, { now: NOW }).id).toBe(anEvent().id);
  });

  it('checks the HMAC over "<t>.<raw body>" (independently of Herald’s signer)', () => {
    const body = '{"id":"x","type":"notification.delivered","createdAt":"","data":{}}';
    const v1 = createHmac('sha256', SECRET).update(`${NOW}.${body}`).digest('hex');
    expect(verifyWebhook(body, `t=${NOW},v1=${v1}`, SECRET, { now: NOW }).id).toBe('x');
  });

  it('refuses a signed body that is not JSON', () => {
    const header = signWebhook(SECRET, 'not json', NOW);
    expect(reasonOf(() => verifyWebhook('not json', header, SECRET, { now: NOW }))).toBe('malformed_body');
  });

  it('refuses to verify with an empty secret (a missing environment variable)', () => {
    const { body, header } = aSignedBody();
    expect(() => verifyWebhook(body, header, '', { now: NOW })).toThrow(TypeError);
  });
});
