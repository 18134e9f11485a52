import jwt from 'jsonwebtoken';
import { loadConfig } from '../config/app-config';
import { ClientTokenVerifier, InvalidTokenError } from './client-token';

const secret = 'unit-test-secret-0123456789abcdef';
const aToken = (claims: Record<string, unknown>, options: jwt.SignOptions = {}, key = secret) =>
  jwt.sign({ exp: Math.floor(Date.now() / 1000) + 60, ...claims }, key, { algorithm: 'HS256', ...options });

describe(ClientTokenVerifier.name, () => {
  const sut = new ClientTokenVerifier(loadConfig({ JWT_SECRET: secret }));

  it('returns the user, expiry and allowed topics of a valid token', () => {
    const exp = Math.floor(Date.now() / 1000) + 60;
    const identity = sut.verify(aToken({ sub: 'alice', exp, topics: ['orders.*'] }));
    expect(identity.userId).toBe('alice');
    expect(identity.expiresAt).toBe(exp * 1000);
    expect(identity.topics.allows('orders.42')).toBe(true);
    expect(identity.topics.allows('invoices.1')).toBe(false);
  });

  it.each([
    ['an expired token', aToken({ sub: 'a', exp: Math.floor(Date.now() / 1000) - 5 }), 'token expired'],
    [
      'a token signed with another key',
      aToken({ sub: 'a' }, {}, 'another-secret-0123456789abcdef'),
      'invalid signature',
    ],
    ['a token without sub', aToken({}), 'no valid `sub`'],
    ['a token with a control char in sub', aToken({ sub: 'a\nb' }), 'no valid `sub`'],
    ['a token without exp', jwt.sign({ sub: 'a' }, secret, { algorithm: 'HS256' }), 'no `exp`'],
    ['topics that are not strings', aToken({ sub: 'a', topics: [1] }), '`topics` must be an array'],
    ['garbage', 'abc.def.ghi', 'invalid token'],
    [
      'an unsigned token',
      jwt.sign({ sub: 'a', exp: Math.floor(Date.now() / 1000) + 60 }, '', { algorithm: 'none' }),
      'invalid token',
    ],
    ['an HS512 token', aToken({ sub: 'a' }, { algorithm: 'HS512' }), 'invalid algorithm'],
  ])('refuses %s', (_name, token, message) => {
    expect(() => sut.verify(token)).toThrow(InvalidTokenError);
    expect(() => sut.verify(token)).toThrow(message);
  });
});
