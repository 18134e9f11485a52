import { ConfigError, loadConfig } from './app-config';

const production = { NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32), API_KEYS: 'backend:k1' };
const load = (env: Record<string, string>) => loadConfig({ ...production, ...env }).redis;
const problem = (env: Record<string, string>): string => {
  try {
    loadConfig({ ...production, ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('no ConfigError');
};

describe('Redis engine modes (REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS)', () => {
  it('reads cluster seeds as host:port, with REDIS_USERNAME / REDIS_PASSWORD for them', () => {
    expect(
      load({
        REDIS_CLUSTER_NODES: 'redis-1:7000, 10.0.0.2:7001,[::1]:7002',
        REDIS_USERNAME: 'herald',
        REDIS_PASSWORD: 'pw',
      }),
    ).toEqual({
      mode: 'cluster',
      seeds: [
        { host: 'redis-1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      username: 'herald',
      password: 'pw',
      tls: undefined,
      minReplicasAck: 0,
    });
  });

  it('takes credentials and TLS from redis:// / rediss:// seeds', () => {
    expect(load({ REDIS_CLUSTER_NODES: 'rediss://app:s%40cret@redis-1:7000,redis-2:7000' })).toMatchObject({
      mode: 'cluster',
      seeds: [
        { host: 'redis-1', port: 7000 },
        { host: 'redis-2', port: 7000 },
      ],
      username: 'app',
      password: 's@cret',
      tls: true,
    });
  });

  it('reads Sentinels, the master group and both passwords', () => {
    expect(
      load({
        REDIS_SENTINELS: 's1:26379,s2:26379',
        REDIS_SENTINEL_MASTER: 'herald',
        REDIS_PASSWORD: 'data-pw',
        REDIS_SENTINEL_PASSWORD: 'sentinel-pw',
        REDIS_MIN_REPLICAS_ACK: '1',
      }),
    ).toEqual({
      mode: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
      ],
      masterName: 'herald',
      username: undefined,
      password: 'data-pw',
      sentinelPassword: 'sentinel-pw',
      minReplicasAck: 1,
    });
  });

  it('refuses more than one mode, naming them', () => {
    expect(problem({ REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'a:1' })).toMatch(
      /REDIS_URL and REDIS_CLUSTER_NODES are all set/,
    );
  });

  it('needs REDIS_SENTINEL_MASTER with REDIS_SENTINELS, and REDIS_SENTINELS with it', () => {
    expect(problem({ REDIS_SENTINELS: 's1:26379' })).toMatch(/REDIS_SENTINEL_MASTER is required/);
    expect(problem({ REDIS_SENTINEL_MASTER: 'herald' })).toMatch(/without REDIS_SENTINELS/);
  });

  it.each([
    ['REDIS_CLUSTER_NODES', 'redis-1'],
    ['REDIS_CLUSTER_NODES', 'redis-1:99999'],
    ['REDIS_CLUSTER_NODES', 'http://redis-1:7000'],
    ['REDIS_SENTINELS', 'redis://s1:26379'],
  ])('refuses %s=%s with a message naming the variable', (name, value) => {
    const extra: Record<string, string> =
      name === 'REDIS_SENTINELS' ? { REDIS_SENTINEL_MASTER: 'herald' } : {};
    expect(problem({ [name]: value, ...extra })).toMatch(new RegExp(`${name} entry`));
  });

  it('never prints a seed password in a message', () => {
    expect(problem({ REDIS_CLUSTER_NODES: 'redis://app:topsecret@redis-1:7000/3' })).not.toMatch(/topsecret/);
  });

  it('needs a Redis engine for REDIS_MIN_REPLICAS_ACK', () => {
    expect(problem({ REDIS_MIN_REPLICAS_ACK: '1' })).toMatch(/REDIS_MIN_REPLICAS_ACK needs a Redis engine/);
  });
});
