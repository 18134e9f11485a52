import { generateKeyPairSync } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, exportJWK, importSPKI, jwtVerify } from 'jose';
import { HeraldError } from '../src/errors';
import { signClientToken } from '../src/client-token';

const NOW = Date.parse('2026-12-01T10:00:00Z');

function aKeyPair(type: 'rsa' | 'ec' | 'ed25519') {
  const { privateKey, publicKey } =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    publicKey,
  };
}

describe(signClientToken.name, () => {
  const claims = { sub: 'alice', topics: ['orders.*'], expiresIn: 600 };

  it('signs HS256 with the shared secret: sub, topics, iat, exp', async () => {
    const sut = signClientToken(claims, { secret: 'shared-secret' }, NOW);

    const { payload, protectedHeader } = await jwtVerify(sut, new TextEncoder().encode('shared-secret'), {
      algorithms: ['HS256'],
      currentDate: new Date(NOW),
    });
    expect(protectedHeader).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(payload).toEqual({ sub: 'alice', topics: ['orders.*'], iat: NOW / 1000, exp: NOW / 1000 + 600 });
  });

  it.each([
    ['rsa', 'RS256'],
    ['ec', 'ES256'],
    ['ed25519', 'EdDSA'],
  ] as const)('signs with a %s private key as %s, verifiable with its public key', async (type, alg) => {
    const keys = aKeyPair(type);

    const sut = signClientToken(
      { ...claims, issuer: 'https://id.example', audience: 'herald' },
      { privateKey: keys.privatePem },
      NOW,
    );

    const { payload, protectedHeader } = await jwtVerify(sut, await importSPKI(keys.publicPem, alg), {
      algorithms: [alg],
      issuer: 'https://id.example',
      audience: 'herald',
      currentDate: new Date(NOW),
    });
    expect(protectedHeader.alg).toBe(alg);
    expect(payload.sub).toBe('alice');
    expect(payload.exp).toBe(NOW / 1000 + 600);
  });

  it('puts the kid in the header, for a JWKS, and reads PEMs with literal \\n escapes', async () => {
    const keys = aKeyPair('ec');
    const escaped = keys.privatePem.replace(/\n/g, '\\n');

    const sut = signClientToken(claims, { privateKey: escaped, kid: 'key-2026' }, NOW);

    expect(decodeProtectedHeader(sut)).toEqual({ alg: 'ES256', typ: 'JWT', kid: 'key-2026' });
    const jwks = createLocalJWKSet({
      keys: [{ ...(await exportJWK(keys.publicKey)), kid: 'key-2026', alg: 'ES256' }],
    });
    await expect(jwtVerify(sut, jwks, { currentDate: new Date(NOW) })).resolves.toBeDefined();
  });

  it('refuses, with a local HeraldError, a bad sub, a bad expiry, an unusable key', () => {
    const secp384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    const attempts = [
      () => signClientToken({ sub: '' }, { secret: 's' }),
      () => signClientToken({ sub: 'a'.repeat(201) }, { secret: 's' }),
      () => signClientToken({ sub: 'alice', expiresIn: 0 }, { secret: 's' }),
      () => signClientToken({ sub: 'alice' }, { secret: '' }),
      () => signClientToken({ sub: 'alice' }, { privateKey: 'not a pem' }),
      () => signClientToken({ sub: 'alice' }, { privateKey: secp384 }),
    ];
    for (const attempt of attempts) {
      expect(attempt).toThrow(HeraldError);
      try {
        attempt();
      } catch (error) {
        expect(error).toMatchObject({ kind: 'local', error: 'Invalid Client Token' });
      }
    }
  });
});
