import jwt from 'jsonwebtoken';
import { signClientToken } from '../../publisher/src/index';
import { startApp, TEST_JWT_SECRET, TestApp } from '../support/app';
import { aNotification, aUserId, connect, publish, refusedUpgrade, TestClient } from '../support/client';
import { aSigningKey, signWith, SigningKey, TestJwksServer } from '../support/identity-provider';

const ISSUER = 'https://idp.test';
const AUDIENCE = 'herald';
const JWKS_REFETCH_INTERVAL_MS = 30_000;

/** Client tokens from an identity provider: keys from a JWKS (by kid) and a PEM, issuer and audience. */
describe('client tokens from an identity provider', () => {
  let idp: TestJwksServer;
  let app: TestApp;
  let pemKey: SigningKey;
  const jwksKeys = { RS256: aSigningKey('RS256'), ES256: aSigningKey('ES256'), EdDSA: aSigningKey('EdDSA') };
  const clients: TestClient[] = [];
  const claims = (sub = aUserId()) => ({ sub, iss: ISSUER, aud: AUDIENCE });

  beforeAll(async () => {
    pemKey = aSigningKey('ES256');
    idp = await TestJwksServer.start(Object.values(jwksKeys));
    app = await startApp({
      JWKS_URL: idp.url,
      JWT_PUBLIC_KEY: pemKey.pem.trim().replace(/\n/g, '\\n'),
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await app?.kill();
    await idp?.stop();
  });

  it.each(['RS256', 'ES256', 'EdDSA'] as const)(
    'connects with a %s token of the JWKS and gets its notifications',
    async (alg) => {
      const user = aUserId(alg);
      const client = await connect(app, await signWith(jwksKeys[alg], claims(user)));
      clients.push(client);
      expect(client.frames[0].data.userId).toBe(user);
      expect((await publish(app, aNotification([user], { alg }))).status).toBe(202);
      expect((await client.waitForNotifications(1))[0].payload).toEqual({ alg });
    },
  );

  it.each(['RS256', 'ES256', 'EdDSA'] as const)(
    'accepts a %s token from the publisher SDK’s signClientToken (private key and kid of the JWKS)',
    async (alg) => {
      const user = aUserId(`sdk-${alg}`);
      const token = signClientToken(
        { sub: user, issuer: ISSUER, audience: AUDIENCE, topics: ['sdk.*'] },
        { privateKey: jwksKeys[alg].privateKey, kid: jwksKeys[alg].kid },
      );
      const client = await connect(app, token);
      clients.push(client);
      expect(client.frames[0].data.userId).toBe(user);
      client.send('subscribe', { channel: 'topic:sdk.1' });
      expect((await client.nextFrame('subscribed')).data.channel).toBe('topic:sdk.1');
    },
  );

  it('connects with a token of the PEM key (no kid), and with HS256 when it names issuer and audience', async () => {
    const pem = await connect(app, await signWith(pemKey, claims(), { header: { kid: undefined } }));
    clients.push(pem);
    const hs = jwt.sign({ ...claims(), exp: Math.floor(Date.now() / 1000) + 60 }, TEST_JWT_SECRET);
    const hmac = await connect(app, hs);
    clients.push(hmac);
    expect(hmac.frames[0].event).toBe('ready');
  });

  it('refreshes a connection with a new token of the identity provider', async () => {
    const user = aUserId();
    const client = await connect(app, await signWith(jwksKeys.EdDSA, claims(user)));
    clients.push(client);
    client.send('refresh', { token: await signWith(jwksKeys.RS256, claims(user), { expiresIn: 7200 }) });
    expect((await client.nextFrame('refreshed')).data.exp).toBeGreaterThan(Date.now() / 1000 + 3600);
  });

  it.each([
    ['another issuer', { iss: 'https://evil.test' }, '`iss` is not JWT_ISSUER'],
    ['no audience', { aud: undefined }, '`aud` does not name JWT_AUDIENCE'],
    ['another audience', { aud: ['billing'] }, '`aud` does not name JWT_AUDIENCE'],
  ])('refuses a token with %s before the upgrade', async (_case, override, message) => {
    const token = await signWith(jwksKeys.ES256, { ...claims(), ...override });
    const refusal = await refusedUpgrade(`${app.wsUrl}?access_token=${token}`);
    expect(refusal).toMatchObject({
      status: 401,
      body: { statusCode: 401, message: `invalid token: ${message}` },
    });
  });

  it('refuses algorithm confusion: HMAC over a public key, a kid of another family, an unsigned token', async () => {
    const exp = Math.floor(Date.now() / 1000) + 60;
    const hmacOverPem = jwt.sign({ ...claims(), exp }, pemKey.pem, {
      algorithm: 'HS256',
      allowInsecureKeySizes: true,
    } as jwt.SignOptions);
    const hmacOverJwk = jwt.sign({ ...claims(), exp }, jwksKeys.RS256.pem, {
      algorithm: 'HS256',
      keyid: jwksKeys.RS256.kid,
      allowInsecureKeySizes: true,
    } as jwt.SignOptions);
    const otherFamily = await signWith(jwksKeys.ES256, claims(), { header: { kid: jwksKeys.RS256.kid } });
    const unsigned = jwt.sign({ ...claims(), exp }, '', { algorithm: 'none' });
    for (const token of [hmacOverPem, hmacOverJwk, otherFamily, unsigned]) {
      const refusal = await refusedUpgrade(`${app.wsUrl}?access_token=${token}`);
      expect(refusal.status).toBe(401);
    }
  });

  it(
    'takes a rotated-in key once the refetch interval has passed, and keeps the cached keys while the host is down',
    async () => {
      const rotated = aSigningKey('ES256');
      // Ensure the document was fetched, then rotate: the new kid is unknown until the interval passed.
      clients.push(await connect(app, await signWith(jwksKeys.ES256, claims())));
      const fetchedAt = Date.now();
      await idp.publish([...Object.values(jwksKeys), rotated]);
      const fetches = idp.fetches;
      const early = await refusedUpgrade(`${app.wsUrl}?access_token=${await signWith(rotated, claims())}`);
      expect(early.status).toBe(401);
      expect(idp.fetches).toBeLessThanOrEqual(fetches + 1);
      await new Promise((resolve) =>
        setTimeout(resolve, JWKS_REFETCH_INTERVAL_MS - (Date.now() - fetchedAt) + 500),
      );
      const user = aUserId('rotated');
      const client = await connect(app, await signWith(rotated, claims(user)));
      clients.push(client);
      expect(client.frames[0].data.userId).toBe(user);
      idp.setDown(true);
      const cached = await connect(app, await signWith(rotated, claims()));
      clients.push(cached);
      expect(cached.frames[0].event).toBe('ready');
      idp.setDown(false);
    },
    JWKS_REFETCH_INTERVAL_MS + 20_000,
  );
});

describe('production with only an identity provider', () => {
  it('starts without JWT_SECRET and refuses HS256 tokens', async () => {
    const key = aSigningKey('EdDSA');
    const idp = await TestJwksServer.start([key]);
    const app = await startApp({ JWT_SECRET: undefined, JWKS_URL: idp.url });
    try {
      const user = aUserId();
      const client = await connect(app, await signWith(key, { sub: user }));
      await client.close();
      const hs = jwt.sign({ sub: user, exp: Math.floor(Date.now() / 1000) + 60 }, TEST_JWT_SECRET);
      const refusal = await refusedUpgrade(`${app.wsUrl}?access_token=${hs}`);
      expect(refusal).toMatchObject({
        status: 401,
        body: { message: expect.stringContaining('invalid algorithm') as unknown },
      });
    } finally {
      await app.kill();
      await idp.stop();
    }
  });
});
