import { createHash, randomBytes } from 'node:crypto';
import { EnvironmentVariables, validateEnvironment } from './environment';

export interface ApiKey {
  /** Stable across replicas: scopes idempotency keys and rate limits. Never the secret itself. */
  name: string;
  secret: string;
}

/** Secrets this process made up because none were configured (development only). */
export interface GeneratedSecrets {
  jwtSecret?: string;
  apiKey?: ApiKey;
}

/**
 * The validated, typed configuration. Built once by {@link loadConfig} and injected everywhere as
 * the `AppConfig` provider; durations are in the unit their name says.
 */
export class AppConfig {
  readonly production: boolean;
  readonly port: number;
  /** Unset → the embedded in-memory engine (one replica only). */
  readonly redisUrl: string | undefined;
  readonly jwtSecret: string;
  readonly apiKeys: readonly ApiKey[];
  readonly historySize: number;
  readonly historyTtlSeconds: number;
  readonly idempotencyTtlSeconds: number;
  readonly heartbeatIntervalMs: number;
  readonly maxPayloadBytes: number;
  readonly wsMaxBufferedBytes: number;
  readonly shutdownTimeoutMs: number;
  readonly maxConnectionsPerUser: number;
  readonly logLevel: EnvironmentVariables['LOG_LEVEL'];
  readonly publishRateLimit: number;
  readonly connectRateLimit: number;
  readonly generated: GeneratedSecrets;

  constructor(env: EnvironmentVariables, generated: GeneratedSecrets, jwtSecret: string, apiKeys: ApiKey[]) {
    this.production = env.NODE_ENV === 'production';
    this.port = env.PORT;
    this.redisUrl = env.REDIS_URL;
    this.jwtSecret = jwtSecret;
    this.apiKeys = apiKeys;
    this.historySize = env.HISTORY_SIZE;
    this.historyTtlSeconds = env.HISTORY_TTL_SECONDS;
    this.idempotencyTtlSeconds = env.IDEMPOTENCY_TTL_SECONDS;
    this.heartbeatIntervalMs = env.HEARTBEAT_INTERVAL_MS;
    this.maxPayloadBytes = env.MAX_PAYLOAD_BYTES;
    this.wsMaxBufferedBytes = env.WS_MAX_BUFFERED_BYTES;
    this.shutdownTimeoutMs = env.SHUTDOWN_TIMEOUT_MS;
    this.maxConnectionsPerUser = env.MAX_CONNECTIONS_PER_USER;
    this.logLevel = env.LOG_LEVEL;
    this.publishRateLimit = env.PUBLISH_RATE_LIMIT;
    this.connectRateLimit = env.CONNECT_RATE_LIMIT;
    this.generated = generated;
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** `name:secret` → that name; a bare secret gets a name derived from its hash, the same on every replica. */
export function parseApiKeys(raw: string): ApiKey[] {
  return raw.split(',').map((entry) => {
    const colon = entry.indexOf(':');
    if (colon > 0 && colon < entry.length - 1) {
      return { name: entry.slice(0, colon), secret: entry.slice(colon + 1) };
    }
    const digest = createHash('sha256').update(entry).digest('hex').slice(0, 12);
    return { name: `key-${digest}`, secret: entry };
  });
}

const randomSecret = (): string => randomBytes(24).toString('base64url');

/**
 * Validates the environment once. In production a missing JWT_SECRET or API_KEYS is an error; elsewhere
 * random ones are generated (and printed by the start-up banner) so a fresh `npm start` is usable at once.
 */
export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const result = validateEnvironment(env);
  if (!result.values) throw new ConfigError(result.problems);
  const values = result.values;
  const production = values.NODE_ENV === 'production';
  const missing = (['JWT_SECRET', 'API_KEYS'] as const).filter((name) => !values[name]);
  if (production && missing.length > 0) {
    throw new ConfigError(missing.map((name) => `${name} is required when NODE_ENV=production`));
  }
  const generated: GeneratedSecrets = {};
  if (!values.JWT_SECRET) generated.jwtSecret = randomSecret();
  if (!values.API_KEYS) generated.apiKey = { name: 'dev', secret: randomSecret() };
  const apiKeys = values.API_KEYS ? parseApiKeys(values.API_KEYS) : [generated.apiKey as ApiKey];
  const duplicate = apiKeys.find(
    (key, index) => apiKeys.findIndex((other) => other.name === key.name) !== index,
  );
  if (duplicate) throw new ConfigError([`API_KEYS names the key "${duplicate.name}" twice`]);
  return new AppConfig(values, generated, values.JWT_SECRET ?? (generated.jwtSecret as string), apiKeys);
}
