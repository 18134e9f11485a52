import { ConfigError, loadConfig, parseApiKeys } from './app-config';

const production = { NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32), API_KEYS: 'backend:k1,k2' };

describe(loadConfig.name, () => {
  it('applies the contract defaults', () => {
    const sut = loadConfig(production);
    expect(sut).toMatchObject({
      production: true,
      port: 3000,
      redisUrl: undefined,
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
      redisUrl: 'redis://:pw@redis:6379/0',
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
    expect(keys[0]).toEqual({ name: 'billing', secret: 's3cr3t' });
    expect(keys[1].secret).toBe('bare-secret');
    expect(keys[1].name).toMatch(/^key-[0-9a-f]{12}$/);
    expect(parseApiKeys('bare-secret')[0].name).toBe(keys[1].name);
    expect(keys[1].name).not.toContain('bare-secret');
  });
});
