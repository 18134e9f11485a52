import { jwtVerify } from 'jose';
import { aSigningKey, signWith, SigningKey, TestJwksServer } from '../../test/support/identity-provider';
import { JWKS_MAX_AGE_MS, JWKS_REFETCH_INTERVAL_MS, JwksKeys } from './jwks-keys';

describe(JwksKeys.name, () => {
  let idp: TestJwksServer;
  let now: number;
  let first: SigningKey;
  let second: SigningKey;
  let sut: JwksKeys;

  const verify = async (key: SigningKey) =>
    (await jwtVerify(await signWith(key, { sub: key.kid }), sut.getKey, { algorithms: [key.alg] })).payload
      .sub;

  beforeEach(async () => {
    first = aSigningKey('RS256');
    second = aSigningKey('EdDSA');
    idp = await TestJwksServer.start([first]);
    now = 1_000_000;
    sut = new JwksKeys(new URL(idp.url), () => now);
  });
  afterEach(() => idp.stop());

  it('fetches once for concurrent first tokens, then verifies from the cache', async () => {
    await Promise.all([verify(first), verify(first), verify(first)]);
    await verify(first);
    expect(idp.fetches).toBe(1);
  });

  it('fetches again for an unknown kid (a rotation), at most once per interval', async () => {
    await verify(first);
    await idp.publish([first, second]);
    await expect(verify(second)).rejects.toThrow('no applicable key');
    expect(idp.fetches).toBe(1);
    now += JWKS_REFETCH_INTERVAL_MS;
    await expect(verify(second)).resolves.toBe(second.kid);
    expect(idp.fetches).toBe(2);
    now += 1000;
    await expect(verify(aSigningKey('ES256'))).rejects.toThrow('no applicable key');
    expect(idp.fetches).toBe(2);
  });

  it('keeps verifying from the cache while the host is down, and asks it at most once per interval', async () => {
    await verify(first);
    idp.setDown(true);
    now += JWKS_MAX_AGE_MS + 1;
    await expect(verify(first)).resolves.toBe(first.kid);
    for (let i = 0; i < 5; i++) await expect(verify(second)).rejects.toThrow('no applicable key');
    expect(idp.fetches).toBe(2);
    now += JWKS_REFETCH_INTERVAL_MS;
    await expect(verify(second)).rejects.toThrow('no applicable key');
    expect(idp.fetches).toBe(3);
    await expect(verify(first)).resolves.toBe(first.kid);
  });

  it('refreshes a stale document in the background: a removed key stops verifying', async () => {
    await verify(first);
    await idp.publish([second]);
    now += JWKS_MAX_AGE_MS + 1;
    await expect(verify(first)).resolves.toBe(first.kid);
    await expect(verify(second)).resolves.toBe(second.kid);
    await expect(verify(first)).rejects.toThrow('no applicable key');
  });

  it('says the keys are unavailable when the first fetch failed', async () => {
    idp.setDown(true);
    await expect(verify(first)).rejects.toThrow('is unavailable');
    await expect(verify(first)).rejects.toThrow('is unavailable');
    expect(idp.fetches).toBe(1);
  });
});
