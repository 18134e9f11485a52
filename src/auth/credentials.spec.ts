import { bearerCredentials, queryToken, redactUrl } from './credentials';

describe(bearerCredentials.name, () => {
  it.each([
    ['Bearer abc.def-ghi_jkl', 'abc.def-ghi_jkl'],
    ['bearer k', 'k'],
    ['BEARER k', 'k'],
    ['Bearer   k', 'k'],
    ['Bearer k \t', 'k'],
    ['Bearer a+b/c==', 'a+b/c=='],
  ])('reads %j as %j', (header, credentials) => {
    expect(bearerCredentials(header)).toBe(credentials);
  });

  it.each([
    'Bearer',
    'Bearer ',
    'Bearerk',
    'Bearer\tk',
    'Basic k',
    'Bearer k\u00a0',
    'Bearer \u00a0k',
    'Bearer k\u000b',
    'Bearer \ufeffk',
    'Bearer k\u3000',
    'Bearer k l',
    'Bearer k\u00e9',
  ])('refuses %j', (header) => {
    expect(bearerCredentials(header)).toBeUndefined();
  });

  it('refuses a missing or repeated header', () => {
    expect(bearerCredentials(undefined)).toBeUndefined();
    expect(bearerCredentials(['Bearer a', 'Bearer b'])).toBeUndefined();
  });
});

describe(queryToken.name, () => {
  it.each([
    ['access_token=t1', 't1'],
    ['acc%65ss_token=t1', 't1'],
    ['%61ccess%5Ftoken=t1&access_token=t2', 't1'],
    ['x=1', undefined],
    ['access_token=', undefined],
  ])('reads %j as %j', (query, token) => {
    expect(queryToken(new URLSearchParams(query))).toBe(token);
  });
});

describe(redactUrl.name, () => {
  it.each([
    ['/v1/ws?access_token=SECRET&offset=3', '/v1/ws?access_token=REDACTED&offset=3'],
    ['/v1/ws?acc%65ss_token=SECRET', '/v1/ws?access_token=REDACTED'],
    ['/v1/ws?%61ccess%5Ftoken=SECRET', '/v1/ws?access_token=REDACTED'],
    ['/v1/ws?ACCESS_TOKEN=SECRET', '/v1/ws?ACCESS_TOKEN=REDACTED'],
    ['/v1/ws?api_key=SECRET&token=SECRET', '/v1/ws?api_key=REDACTED&token=REDACTED'],
    ['/v1/ws?a=1&access_token=SECRET#frag', '/v1/ws?a=1&access_token=REDACTED'],
    ['/v1/ws#?access_token=SECRET', '/v1/ws'],
    ['/v1/presence/alice?x=%zz', '/v1/presence/alice?x=%zz'],
    ['/v1/presence/alice', '/v1/presence/alice'],
  ])('shows %j as %j', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });

  it('redacts every parameter the handshake would read as the token', () => {
    const urls = [
      '/v1/ws?acc%65ss_token=SECRET',
      '/v1/ws?access_token=SECRET',
      '/v1/ws?a%63cess_token=SECRET',
    ];
    for (const url of urls) {
      expect(queryToken(new URL(url, 'http://localhost').searchParams)).toBe('SECRET');
      expect(redactUrl(url)).not.toContain('SECRET');
    }
  });
});
