import jwt from 'jsonwebtoken';
import { aSigningKey, signWith, SigningKey, TestJwksServer } from '../../test/support/identity-provider';
import { loadConfig } from '../config/app-config';
import { ClientTokenVerifier, InvalidTokenError } from './client-token';

const secret = 'unit-test-secret-0123456789abcdef';
const inAMinute = () => Math.floor(Date.now() / 1000) + 60;
const aToken = (claims: Record<string, unknown>, options: jwt.SignOptions = {}, key = secret) =>
  jwt.sign({ exp: inAMinute(), ...claims }, key, { algorithm: 'HS256', ...options });

const refusal = async (sut: ClientTokenVerifier, token: string): Promise<string> => {
  try {
    await sut.verify(token);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidTokenError);
    return (error as Error).message;
  }
  throw new Error('the token was accepted');
};

describe(ClientTokenVerifier.name, () => {
  describe('HS256 (JWT_SECRET)', () => {
    const sut = new ClientTokenVerifier(loadConfig({ JWT_SECRET: secret }));

    it('returns the user, expiry and allowed topics of a valid token', async () => {
      const exp = inAMinute();
      const identity = await sut.verify(aToken({ sub: 'alice', exp, topics: ['orders.*'] }));
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
      ['a token whose sub is a lone surrogate', aToken({ sub: '\ud800' }), 'no valid `sub`'],
      ['a token whose sub ends in a lone surrogate', aToken({ sub: 'bob\udfff' }), 'no valid `sub`'],
      ['a token without exp', jwt.sign({ sub: 'a' }, secret, { algorithm: 'HS256' }), 'no `exp`'],
      ['topics that are not strings', aToken({ sub: 'a', topics: [1] }), '`topics` must be an array'],
      ['garbage', 'abc.def.ghi', 'invalid token'],
      [
        'an unsigned token',
        jwt.sign({ sub: 'a', exp: inAMinute() }, '', { algorithm: 'none' }),
        'invalid token',
      ],
      ['an HS512 token', aToken({ sub: 'a' }, { algorithm: 'HS512' }), 'invalid algorithm'],
    ])('refuses %s', async (_name, token, message) => {
      expect(await refusal(sut, token)).toContain(message);
    });

    it('accepts a sub of U+FFFD, which is well-formed', async () => {
      expect((await sut.verify(aToken({ sub: '\ufffd' }))).userId).toBe('\ufffd');
    });
  });

  describe.each(['RS256', 'ES256', 'EdDSA'] as const)('%s from JWT_PUBLIC_KEY', (alg) => {
    const key = aSigningKey(alg);
    const sut = new ClientTokenVerifier(loadConfig({ JWT_PUBLIC_KEY: key.pem, JWT_SECRET: secret }));

    it('verifies a token signed by the private key, with or without kid', async () => {
      expect((await sut.verify(await signWith(key, { sub: 'alice' }))).userId).toBe('alice');
      expect(
        (await sut.verify(await signWith(key, { sub: 'bob' }, { header: { kid: undefined } }))).userId,
      ).toBe('bob');
    });

    it('reads the PEM with literal \\n escapes, as env files carry it', async () => {
      const escaped = new ClientTokenVerifier(
        loadConfig({ JWT_PUBLIC_KEY: key.pem.trim().replace(/\n/g, '\\n') }),
      );
      expect((await escaped.verify(await signWith(key, { sub: 'alice' }))).userId).toBe('alice');
    });

    it('refuses a token of another key, an expired one and a lone-surrogate sub', async () => {
      const other = aSigningKey(alg);
      expect(await refusal(sut, await signWith(other, { sub: 'a' }))).toBe(
        'invalid token: invalid signature',
      );
      expect(await refusal(sut, await signWith(key, { sub: 'a' }, { expiresIn: -5 }))).toBe('token expired');
      expect(await refusal(sut, await signWith(key, { sub: 'x\ud800' }))).toContain('no valid `sub`');
    });

    it('never uses the public key as an HMAC secret (alg confusion)', async () => {
      const forged = jwt.sign({ sub: 'mallory', exp: inAMinute() }, key.pem, {
        algorithm: 'HS256',
        allowInsecureKeySizes: true,
      } as jwt.SignOptions);
      expect(await refusal(sut, forged)).toBe('invalid token: invalid signature');
      const pemOnly = new ClientTokenVerifier(loadConfig({ JWT_PUBLIC_KEY: key.pem }));
      expect(await refusal(pemOnly, forged)).toContain('invalid algorithm');
    });

    it('never verifies an asymmetric token with the secret, nor another family with this key', async () => {
      const pemOnly = new ClientTokenVerifier(loadConfig({ JWT_PUBLIC_KEY: key.pem }));
      const otherFamily = aSigningKey(alg === 'RS256' ? 'ES256' : 'RS256');
      expect(await refusal(pemOnly, await signWith(otherFamily, { sub: 'a' }))).toContain(
        'invalid algorithm',
      );
      const secretOnly = new ClientTokenVerifier(loadConfig({ JWT_SECRET: secret }));
      expect(await refusal(secretOnly, await signWith(key, { sub: 'a' }))).toContain('invalid algorithm');
    });
  });

  describe('issuer and audience', () => {
    const key = aSigningKey('ES256');
    const sut = new ClientTokenVerifier(
      loadConfig({ JWT_PUBLIC_KEY: key.pem, JWT_ISSUER: 'https://idp.example', JWT_AUDIENCE: 'herald' }),
    );
    const claims = { sub: 'alice', iss: 'https://idp.example', aud: 'herald' };

    it('accepts the configured iss and an aud that is or contains JWT_AUDIENCE', async () => {
      await expect(sut.verify(await signWith(key, claims))).resolves.toMatchObject({ userId: 'alice' });
      await expect(
        sut.verify(await signWith(key, { ...claims, aud: ['billing', 'herald'] })),
      ).resolves.toBeDefined();
    });

    it.each([
      [{ iss: 'https://evil.example' }, '`iss` is not JWT_ISSUER'],
      [{ iss: undefined }, '`iss` is not JWT_ISSUER'],
      [{ aud: 'billing' }, '`aud` does not name JWT_AUDIENCE'],
      [{ aud: ['billing'] }, '`aud` does not name JWT_AUDIENCE'],
      [{ aud: undefined }, '`aud` does not name JWT_AUDIENCE'],
    ])('refuses %j', async (override, message) => {
      expect(await refusal(sut, await signWith(key, { ...claims, ...override }))).toContain(message);
    });

    it('applies them to HS256 tokens too', async () => {
      const both = new ClientTokenVerifier(
        loadConfig({ JWT_SECRET: secret, JWT_ISSUER: 'https://idp.example' }),
      );
      expect(await refusal(both, aToken({ sub: 'a' }))).toContain('`iss` is not JWT_ISSUER');
      await expect(both.verify(aToken({ sub: 'a', iss: 'https://idp.example' }))).resolves.toBeDefined();
    });
  });

  describe('JWKS_URL', () => {
    let idp: TestJwksServer;
    let rsa: SigningKey;
    let ec: SigningKey;

    beforeAll(async () => {
      rsa = aSigningKey('RS256');
      ec = aSigningKey('ES256');
      idp = await TestJwksServer.start([rsa, ec]);
    });
    afterAll(() => idp.stop());

    it('verifies each key by its kid, and refuses a kid whose key is of another algorithm', async () => {
      const sut = new ClientTokenVerifier(loadConfig({ JWKS_URL: idp.url }));
      expect((await sut.verify(await signWith(rsa, { sub: 'r' }))).userId).toBe('r');
      expect((await sut.verify(await signWith(ec, { sub: 'e' }))).userId).toBe('e');
      const confused = await signWith(ec, { sub: 'm' }, { header: { kid: rsa.kid } });
      expect(await refusal(sut, confused)).toContain('invalid token');
      const hmac = jwt.sign({ sub: 'm', exp: inAMinute() }, rsa.pem, {
        algorithm: 'HS256',
        keyid: rsa.kid,
        allowInsecureKeySizes: true,
      } as jwt.SignOptions);
      expect(await refusal(sut, hmac)).toContain('invalid algorithm');
    });
  });
});
