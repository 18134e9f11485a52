import { createHmac } from 'node:crypto';
import { signWebhook } from './webhook-signature';

describe(signWebhook.name, () => {
  const secret = 'whsec-0123456789abcdef';
  const body =
    '{"id":"8d1c2f4e-0000-4000-8000-000000000000","type":"notification.delivered","createdAt":"2026-12-01T12:00:00.000Z","data":{}}';

  it('is t=<unix ms>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">', () => {
    const expected = createHmac('sha256', secret).update(`1764590400123.${body}`).digest('hex');
    expect(signWebhook(secret, body, 1764590400123)).toBe(`t=1764590400123,v1=${expected}`);
  });

  it('matches a known vector', () => {
    // printf '%s' '1000.{}' | openssl dgst -sha256 -hmac 'whsec-0123456789abcdef'
    expect(signWebhook(secret, '{}', 1000)).toBe(
      't=1000,v1=08d56b5ae3cf791546a4b21515a3dcd84db2a28865321b0a570eb81be9198610',
    );
  });

  it('changes with the time, the body and the secret', () => {
    const base = signWebhook(secret, body, 1000);
    expect(signWebhook(secret, body, 1001)).not.toBe(base);
    expect(signWebhook(secret, `${body} `, 1000).split(',')[1]).not.toBe(base.split(',')[1]);
    expect(signWebhook(`${secret}x`, body, 1000).split(',')[1]).not.toBe(base.split(',')[1]);
  });

  it('writes whole milliseconds', () => {
    expect(signWebhook(secret, body, 1000.7)).toMatch(/^t=1000,v1=[0-9a-f]{64}$/);
  });
});
