import { createECDH, generateKeyPairSync } from 'node:crypto';
import { ConfigError, loadConfig, parseApiKeys } from './app-config';

const production = { NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32), API_KEYS: 'backend:k1,k2' };

describe(loadConfig.name, () => {
  it('applies the contract defaults', () => {
    const sut = loadConfig(production);
    expect(sut).toMatchObject({
      production: true,
      port: 3000,
      redis: undefined,
      historySize: 1000,
      historyTtlSeconds: 86400,
      idempotencyTtlSeconds: 86400,
      heartbeatIntervalMs: 25000,
      maxPayloadBytes: 65536,
      wsMaxBufferedBytes: 1048576,
      shutdownTimeoutMs: 10000,
      maxConnectionsPerUser: 20,
      logLevel: 'info',
      publishRateLimit: 0,
      connectRateLimit: 0,
      generated: {},
    });
  });

  it('reads every variable as its type', () => {
    const sut = loadConfig({
      ...production,
      PORT: '8080',
      REDIS_URL: 'redis://:pw@redis:6379/0',
      HISTORY_SIZE: '50',
      HEARTBEAT_INTERVAL_MS: '1000',
      LOG_LEVEL: 'debug',
      PUBLISH_RATE_LIMIT: '100',
    });
    expect(sut).toMatchObject({
      port: 8080,
      redis: { mode: 'single', url: 'redis://:pw@redis:6379/0', minReplicasAck: 0 },
      historySize: 50,
      heartbeatIntervalMs: 1000,
      logLevel: 'debug',
      publishRateLimit: 100,
    });
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['HISTORY_SIZE', '0'],
    ['REDIS_URL', 'http://redis:6379'],
    ['LOG_LEVEL', 'loud'],
    ['MAX_PAYLOAD_BYTES', '1.5'],
    ['JWT_SECRET', 'short'],
    ['API_KEYS', 'a, b'],
    ['REDIS_MIN_REPLICAS_ACK', '-1'],
  ])('refuses %s=%s with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ ...production, [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ...production, [name]: value })).toThrow(new RegExp(`${name}=`));
  });

  it('lists every bad variable at once', () => {
    const error = (() => {
      try {
        loadConfig({ ...production, PORT: 'x', HISTORY_SIZE: '-1' });
      } catch (caught) {
        return caught as ConfigError;
      }
      throw new Error('no error');
    })();
    expect(error.problems).toHaveLength(2);
  });

  it('refuses to start in production without secrets', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(
      /JWT_SECRET is required[\s\S]*API_KEYS is required/,
    );
  });

  it('generates secrets outside production', () => {
    const sut = loadConfig({});
    expect(sut.generated.jwtSecret).toHaveLength(32);
    expect(sut.apiKeys).toEqual([sut.generated.apiKey]);
    expect(sut.jwtSecret).toBe(sut.generated.jwtSecret);
  });

  it('refuses two keys with one name', () => {
    expect(() => loadConfig({ ...production, API_KEYS: 'a:x,a:y' })).toThrow(/names the key "a" twice/);
  });
});

describe(parseApiKeys.name, () => {
  it('reads name:secret and names bare secrets by their hash, the same on every replica', () => {
    const keys = parseApiKeys('billing:s3cr3t,bare-secret');
    expect(keys[0]).toEqual({ name: 'billing', secret: 's3cr3t', scopes: new Set(['publish', 'read']) });
    expect(keys[1].secret).toBe('bare-secret');
    expect(keys[1].name).toMatch(/^key-[0-9a-f]{12}$/);
    expect(parseApiKeys('bare-secret')[0].name).toBe(keys[1].name);
    expect(keys[1].name).not.toContain('bare-secret');
  });
});

describe('API_KEYS scopes', () => {
  it('reads name:secret:scope+scope; entries without scopes keep every scope', () => {
    const keys = parseApiKeys('billing:s1:publish,audit:s2:read,ops:s3:read+publish,old:s4,bare');
    expect(keys.map((key) => [key.name, [...key.scopes].sort()])).toEqual([
      ['billing', ['publish']],
      ['audit', ['read']],
      ['ops', ['publish', 'read']],
      ['old', ['publish', 'read']],
      [keys[4].name, ['publish', 'read']],
    ]);
  });

  it.each([
    ['a:s:admin', /key "a" has unknown scope "admin"/],
    ['a:s:', /entry 1 must be/],
    ['a:s:read:more', /entry 1 must be/],
    ['x:y,:s', /entry 2 must be/],
  ])('refuses %j without printing the secret', (raw, message) => {
    expect(() => parseApiKeys(raw)).toThrow(message);
    expect(() => loadConfig({ ...production, API_KEYS: raw })).toThrow(ConfigError);
  });

  it('never prints a secret variable in a start-up error', () => {
    expect(() => loadConfig({ ...production, API_KEYS: 'a:topsecret value' })).toThrow(/API_KEYS=<hidden>/);
    expect(() => loadConfig({ ...production, API_KEYS: 'a:topsecret value' })).not.toThrow(/topsecret/);
    expect(() => loadConfig({ ...production, JWT_SECRET: 'shortsecret' })).not.toThrow(/shortsecret/);
  });

  it('refuses non-ASCII secrets, which no HTTP header could carry as configured', () => {
    expect(() => loadConfig({ ...production, API_KEYS: 'a:s\u00e9cret' })).toThrow(/API_KEYS=/);
  });
});

describe('client token keys', () => {
  const pemOf = (type: 'rsa' | 'ec' | 'ed25519' | 'x25519', options: object = {}) =>
    generateKeyPairSync(type as 'rsa', options as { modulusLength: number })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();

  it.each([
    ['rsa', { modulusLength: 2048 }, 'RS256'],
    ['ec', { namedCurve: 'P-256' }, 'ES256'],
    ['ed25519', {}, 'EdDSA'],
  ] as const)('takes a %s JWT_PUBLIC_KEY as %s', (type, options, algorithm) => {
    const pem = pemOf(type, options);
    expect(loadConfig({ JWT_PUBLIC_KEY: pem }).jwtPublicKey).toEqual({ pem: pem.trim(), algorithm });
    expect(loadConfig({ JWT_PUBLIC_KEY: pem.replace(/\n/g, '\\n') }).jwtPublicKey?.algorithm).toBe(algorithm);
  });

  it('takes a PKCS#1 RSA key', () => {
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .publicKey.export({ type: 'pkcs1', format: 'pem' })
      .toString();
    expect(loadConfig({ JWT_PUBLIC_KEY: pem }).jwtPublicKey?.algorithm).toBe('RS256');
  });

  it.each([
    ['not a key', /JWT_PUBLIC_KEY must be a PEM public key/],
    [pemOf('ec', { namedCurve: 'P-384' }), /JWT_PUBLIC_KEY must be an RSA, EC P-256 or Ed25519 key/],
    [pemOf('x25519'), /JWT_PUBLIC_KEY must be an RSA, EC P-256 or Ed25519 key/],
  ])('refuses JWT_PUBLIC_KEY %#', (pem, message) => {
    expect(() => loadConfig({ JWT_PUBLIC_KEY: pem })).toThrow(message);
  });

  it.each([
    'https://idp.example/.well-known/jwks.json',
    'http://127.0.0.1:8080/jwks',
    'http://localhost/j',
    'http://[::1]:9/j',
  ])('takes JWKS_URL=%s', (url) => {
    expect(loadConfig({ JWKS_URL: url }).jwksUrl).toBe(url);
  });

  it.each(['http://idp.example/jwks', 'http://10.0.0.1/jwks', 'ftp://127.0.0.1/j', 'jwks.json'])(
    'refuses JWKS_URL=%s naming the variable',
    (url) => {
      expect(() => loadConfig({ JWKS_URL: url })).toThrow(/JWKS_URL=/);
    },
  );

  it('needs one of JWT_SECRET, JWT_PUBLIC_KEY, JWKS_URL in production, and generates none beside them', () => {
    const jwks = { NODE_ENV: 'production', API_KEYS: 'a:b', JWKS_URL: 'https://idp.example/jwks' };
    expect(loadConfig(jwks)).toMatchObject({ jwtSecret: undefined, generated: {} });
    expect(() => loadConfig({ NODE_ENV: 'production', API_KEYS: 'a:b' })).toThrow(/JWT_SECRET is required/);
    expect(loadConfig({ JWKS_URL: 'https://idp.example/jwks' }).generated.jwtSecret).toBeUndefined();
  });
});

describe('demo', () => {
  it.each([
    [{}, true],
    [production, false],
    [{ JWT_SECRET: 's'.repeat(32) }, false],
    [{ API_KEYS: 'a:b' }, false],
    [{ JWKS_URL: 'https://idp.example/jwks' }, false],
  ])('exists with %j: %s', (env, demo) => {
    expect(loadConfig(env).demo).toBe(demo);
  });
});

describe('webhooks', () => {
  const secret = 'whsec-0123456789abcdef';

  it('are off without WEBHOOK_URL', () => {
    expect(loadConfig(production).webhook).toBeUndefined();
  });

  it('read WEBHOOK_URL and WEBHOOK_SECRET with the 5 s timeout and the default schedule', () => {
    const sut = loadConfig({
      ...production,
      WEBHOOK_URL: 'https://hooks.example/herald',
      WEBHOOK_SECRET: secret,
    });
    expect(sut.webhook).toEqual({
      url: 'https://hooks.example/herald',
      secret,
      timeoutMs: 5000,
      retryScheduleMs: [2_000, 8_000, 32_000, 128_000, 512_000, 2_048_000, 8_192_000, 14_400_000, 14_400_000],
    });
  });

  it('keep the contract: first retry within 5 s, at least 8 attempts over at least an hour', () => {
    const schedule = loadConfig({ ...production, WEBHOOK_URL: 'http://h.example', WEBHOOK_SECRET: secret })
      .webhook?.retryScheduleMs as number[];
    expect(schedule[0]).toBeLessThan(5000);
    expect(schedule.length + 1).toBeGreaterThanOrEqual(8);
    expect(schedule.reduce((sum, ms) => sum + ms, 0)).toBeGreaterThanOrEqual(3_600_000);
  });

  it('read WEBHOOK_TIMEOUT_MS and WEBHOOK_RETRY_SCHEDULE_MS', () => {
    const sut = loadConfig({
      ...production,
      WEBHOOK_URL: 'http://127.0.0.1:9/hook',
      WEBHOOK_SECRET: secret,
      WEBHOOK_TIMEOUT_MS: '800',
      WEBHOOK_RETRY_SCHEDULE_MS: '100,200',
    });
    expect(sut.webhook).toMatchObject({ timeoutMs: 800, retryScheduleMs: [100, 200] });
  });

  it.each([
    [{ WEBHOOK_URL: 'https://hooks.example/x' }, /WEBHOOK_SECRET is required with WEBHOOK_URL/],
    [{ WEBHOOK_SECRET: secret }, /WEBHOOK_SECRET is set but WEBHOOK_URL is not/],
    [{ WEBHOOK_URL: 'https://hooks.example/x', WEBHOOK_SECRET: 'short' }, /WEBHOOK_SECRET=<hidden>: .*16/],
    [
      { WEBHOOK_URL: 'ftp://hooks.example/x', WEBHOOK_SECRET: secret },
      /WEBHOOK_URL=<hidden>: must be an http/,
    ],
    [{ WEBHOOK_URL: 'hooks.example', WEBHOOK_SECRET: secret }, /WEBHOOK_URL=<hidden>/],
    [
      { WEBHOOK_URL: 'http://h.example', WEBHOOK_SECRET: secret, WEBHOOK_TIMEOUT_MS: '5' },
      /WEBHOOK_TIMEOUT_MS=/,
    ],
    [
      { WEBHOOK_URL: 'http://h.example', WEBHOOK_SECRET: secret, WEBHOOK_RETRY_SCHEDULE_MS: '1s,2s' },
      /WEBHOOK_RETRY_SCHEDULE_MS=/,
    ],
    [
      { WEBHOOK_URL: 'http://h.example', WEBHOOK_SECRET: secret, WEBHOOK_RETRY_SCHEDULE_MS: '0,100' },
      /WEBHOOK_RETRY_SCHEDULE_MS must list/,
    ],
  ])('refuse %j naming the variable', (env, message) => {
    expect(() => loadConfig({ ...production, ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ ...production, ...env })).toThrow(message);
  });

  it('never print the URL or the secret in a start-up error', () => {
    const url = 'ftp://user:hunter2@hooks.example/t0ken';
    const run = () => loadConfig({ ...production, WEBHOOK_URL: url, WEBHOOK_SECRET: 'sh0rt' });
    expect(run).toThrow(ConfigError);
    expect(run).not.toThrow(/hunter2|t0ken|sh0rt/);
  });
});

describe('Web Push (VAPID)', () => {
  const aKeyPair = () => {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    return {
      VAPID_PUBLIC_KEY: ecdh.getPublicKey().toString('base64url'),
      VAPID_PRIVATE_KEY: ecdh.getPrivateKey().toString('base64url'),
    };
  };
  const vapid = () => ({ ...aKeyPair(), VAPID_SUBJECT: 'mailto:ops@example.com' });

  it('is off without the VAPID variables, with private endpoints refused and a 1 s poll', () => {
    expect(loadConfig(production)).toMatchObject({
      vapid: undefined,
      pushAllowPrivateEndpoints: false,
      pushPollIntervalMs: 1000,
    });
  });

  it('is on with all three, and reads the push knobs', () => {
    const env = vapid();
    const sut = loadConfig({
      ...production,
      ...env,
      PUSH_ALLOW_PRIVATE_ENDPOINTS: 'true',
      PUSH_POLL_INTERVAL_MS: '50',
    });
    expect(sut.vapid).toEqual({
      publicKey: env.VAPID_PUBLIC_KEY,
      privateKey: env.VAPID_PRIVATE_KEY,
      subject: 'mailto:ops@example.com',
    });
    expect(sut).toMatchObject({ pushAllowPrivateEndpoints: true, pushPollIntervalMs: 50 });
  });

  it.each([
    [['VAPID_PUBLIC_KEY'], 'VAPID_PRIVATE_KEY and VAPID_SUBJECT must be set too'],
    [['VAPID_PUBLIC_KEY', 'VAPID_PRIVATE_KEY'], 'VAPID_SUBJECT must be set too'],
    [['VAPID_SUBJECT'], 'VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY must be set too'],
  ])('with only %j set, stops naming the missing ones', (names, message) => {
    const env = vapid();
    const partial = Object.fromEntries(names.map((name) => [name, env[name as keyof typeof env]]));
    expect(() => loadConfig({ ...production, ...partial })).toThrow(message);
  });

  it('refuses keys that are not a P-256 pair, never printing the private key', () => {
    const env = vapid();
    const other = aKeyPair();
    const problem = (overrides: Record<string, string>): string => {
      try {
        loadConfig({ ...production, ...env, ...overrides });
      } catch (error) {
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(problem({ VAPID_PUBLIC_KEY: 'not-a-key' })).toContain('VAPID_PUBLIC_KEY must be base64url');
    expect(problem({ VAPID_PRIVATE_KEY: `${env.VAPID_PRIVATE_KEY}==` })).toContain(
      'VAPID_PRIVATE_KEY must be base64url',
    );
    expect(problem({ VAPID_PUBLIC_KEY: other.VAPID_PUBLIC_KEY })).toContain(
      'VAPID_PUBLIC_KEY is not the public key of VAPID_PRIVATE_KEY',
    );
    const zero = Buffer.alloc(32).toString('base64url');
    expect(problem({ VAPID_PRIVATE_KEY: zero })).toContain(
      'VAPID_PRIVATE_KEY is not a valid P-256 private key',
    );
    expect(problem({ VAPID_PRIVATE_KEY: zero })).not.toContain(zero);
    expect(problem({ VAPID_SUBJECT: 'ops@example.com' })).toContain('VAPID_SUBJECT must be a mailto:');
  });

  it.each(['yes', '2'])('refuses PUSH_ALLOW_PRIVATE_ENDPOINTS=%s', (value) => {
    expect(() => loadConfig({ ...production, PUSH_ALLOW_PRIVATE_ENDPOINTS: value })).toThrow(
      'PUSH_ALLOW_PRIVATE_ENDPOINTS must be true or false',
    );
  });
});
