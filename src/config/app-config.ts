import { createECDH, createHash, createPublicKey, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { EnvironmentVariables, validateEnvironment } from './environment';
import { parseRedisTopology, RedisTopology } from './redis-topology';

/**
 * What an API key may do: `publish` (POST /v1/notifications, /batch), `read` (history, presence,
 * delivery status, push-subscription lists).
 */
export const API_SCOPES = ['publish', 'read'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

export interface ApiKey {
  /** Stable across replicas: scopes idempotency keys and rate limits. Never the secret itself. */
  name: string;
  secret: string;
  /** An entry without a scope list has every scope. */
  scopes: ReadonlySet<ApiScope>;
}

/** The algorithm a public key verifies, by its type (RFC 7518 / RFC 8037 names). */
export type PublicKeyAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

/** Where delivery events are POSTed, and how (WEBHOOK_* variables). */
export interface WebhookConfig {
  /** http:// or https://; may carry credentials or a token, so it is never logged (its origin is). */
  url: string;
  /** Signs every webhook (HMAC-SHA256); never logged. */
  secret: string;
  /** One attempt's whole exchange (connect, request, answer). */
  timeoutMs: number;
  /** The wait before retry n is entry n - 1; the event is dropped after attempt `length + 1`. */
  retryScheduleMs: readonly number[];
}

/** The VAPID identity (RFC 8292) Herald signs Web Push requests with; all three set, or Web Push is off. */
export interface VapidKeys {
  /** base64url of the uncompressed P-256 point (65 bytes), as browsers take it (`applicationServerKey`). */
  publicKey: string;
  /** base64url of the 32-byte private scalar. */
  privateKey: string;
  /** `mailto:…` or `https://…` */
  subject: string;
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
  readonly redis: RedisTopology | undefined;
  /** HS256 client tokens; unset → none are accepted. */
  readonly jwtSecret: string | undefined;
  /** A PEM public key for client tokens, newlines restored, with the one algorithm it verifies. */
  readonly jwtPublicKey: { pem: string; algorithm: PublicKeyAlgorithm } | undefined;
  /** An identity provider's JWKS document (https, or http on a loopback host). */
  readonly jwksUrl: string | undefined;
  /** When set, a client token's `iss` must equal it. */
  readonly jwtIssuer: string | undefined;
  /** When set, a client token's `aud` must be or contain it. */
  readonly jwtAudience: string | undefined;
  readonly apiKeys: readonly ApiKey[];
  /**
   * The demo page and its credential-free routes: only outside production and only when Herald
   * generated every credential itself (none of JWT_SECRET, JWT_PUBLIC_KEY, JWKS_URL, API_KEYS set).
   */
  readonly demo: boolean;
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
  /** Unset (no WEBHOOK_URL) → delivery events are discarded. */
  readonly webhook: WebhookConfig | undefined;
  /** Web Push: on only with VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY and VAPID_SUBJECT. */
  readonly vapid: VapidKeys | undefined;
  /** `http://` and loopback/private-address push endpoints allowed (tests, self-hosted push services). */
  readonly pushAllowPrivateEndpoints: boolean;
  /** How often each replica looks for due pushes. */
  readonly pushPollIntervalMs: number;
  readonly generated: GeneratedSecrets;

  constructor(
    env: EnvironmentVariables,
    generated: GeneratedSecrets,
    clientKeys: ClientTokenKeys,
    apiKeys: ApiKey[],
    redis: RedisTopology | undefined,
    webhook: WebhookConfig | undefined,
  ) {
    this.production = env.NODE_ENV === 'production';
    this.port = env.PORT;
    this.redis = redis;
    this.jwtSecret = clientKeys.jwtSecret;
    this.jwtPublicKey = clientKeys.jwtPublicKey;
    this.jwksUrl = clientKeys.jwksUrl;
    this.jwtIssuer = env.JWT_ISSUER;
    this.jwtAudience = env.JWT_AUDIENCE;
    this.apiKeys = apiKeys;
    this.demo =
      !this.production &&
      [env.JWT_SECRET, env.JWT_PUBLIC_KEY, env.JWKS_URL, env.API_KEYS].every((value) => value === undefined);
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
    this.webhook = webhook;
    this.vapid =
      env.VAPID_PUBLIC_KEY && env.VAPID_PRIVATE_KEY && env.VAPID_SUBJECT
        ? { publicKey: env.VAPID_PUBLIC_KEY, privateKey: env.VAPID_PRIVATE_KEY, subject: env.VAPID_SUBJECT }
        : undefined;
    this.pushAllowPrivateEndpoints = env.PUSH_ALLOW_PRIVATE_ENDPOINTS;
    this.pushPollIntervalMs = env.PUSH_POLL_INTERVAL_MS;
    this.generated = generated;
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const EVERY_SCOPE: ReadonlySet<ApiScope> = new Set(API_SCOPES);

const isScope = (value: string): value is ApiScope => (API_SCOPES as readonly string[]).includes(value);

/**
 * `name:secret` → that name, every scope; `name:secret:scope+scope` → those scopes; a bare secret gets
 * a name derived from its hash (the same on every replica) and every scope. A secret therefore cannot
 * contain `:`. Problems are thrown as a {@link ConfigError} naming the entry, never its secret.
 */
export function parseApiKeys(raw: string): ApiKey[] {
  const problems: string[] = [];
  const keys = raw.split(',').map((entry, index): ApiKey => {
    const parts = entry.split(':');
    if (parts.length === 1) {
      const digest = createHash('sha256').update(entry).digest('hex').slice(0, 12);
      return { name: `key-${digest}`, secret: entry, scopes: EVERY_SCOPE };
    }
    const [name, secret, scopeList] = parts;
    if (parts.length > 3 || !name || !secret || scopeList === '') {
      problems.push(
        `API_KEYS entry ${index + 1} must be \`name:secret\`, \`name:secret:scope+scope\` or \`secret\``,
      );
      return { name, secret, scopes: EVERY_SCOPE };
    }
    if (scopeList === undefined) return { name, secret, scopes: EVERY_SCOPE };
    const scopes = scopeList.split('+');
    const unknown = scopes.filter((scope) => !isScope(scope));
    if (unknown.length > 0) {
      problems.push(
        `API_KEYS key "${name}" has unknown scope ${unknown.map((scope) => `"${scope}"`).join(', ')} (scopes: ${API_SCOPES.join(', ')})`,
      );
    }
    return { name, secret, scopes: new Set(scopes.filter(isScope)) };
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return keys;
}

/** The keys that verify client tokens, as configured (or generated). */
interface ClientTokenKeys {
  jwtSecret: string | undefined;
  jwtPublicKey: AppConfig['jwtPublicKey'];
  jwksUrl: string | undefined;
}

/**
 * JWT_PUBLIC_KEY as a PEM (literal `\n` escapes, as env files and secret stores often carry them, read
 * as newlines) and the algorithm its type implies: RSA → RS256, EC P-256 → ES256, Ed25519 → EdDSA.
 */
export function readPublicKey(raw: string): { pem: string; algorithm: PublicKeyAlgorithm } | string {
  const pem = raw.replace(/\\n/g, '\n').trim();
  let key;
  try {
    key = createPublicKey(pem);
  } catch {
    return 'JWT_PUBLIC_KEY must be a PEM public key (SPKI "BEGIN PUBLIC KEY" or PKCS#1 "BEGIN RSA PUBLIC KEY")';
  }
  if (key.asymmetricKeyType === 'rsa') return { pem, algorithm: 'RS256' };
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1')
    return { pem, algorithm: 'ES256' };
  if (key.asymmetricKeyType === 'ed25519') return { pem, algorithm: 'EdDSA' };
  return `JWT_PUBLIC_KEY must be an RSA, EC P-256 or Ed25519 key (got ${key.asymmetricKeyType ?? 'unknown'})`;
}

/** JWKS_URL: https, or http when the host is a loopback one (an identity provider on the same machine). */
export function jwksUrlProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `JWKS_URL=${JSON.stringify(raw)}: must be an https:// URL`;
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && isLoopback(url.hostname)) return undefined;
  return `JWKS_URL=${JSON.stringify(raw)}: must be an https:// URL (http:// only for a loopback host)`;
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

const MAX_WEBHOOK_RETRIES = 100;

/**
 * WEBHOOK_URL (http or https) with its WEBHOOK_SECRET, the timeout and the retry schedule; undefined
 * without WEBHOOK_URL. A problem names its variable, never the URL's or the secret's value.
 */
export function readWebhookConfig(
  values: EnvironmentVariables,
  problems: string[],
): WebhookConfig | undefined {
  const { WEBHOOK_URL: url, WEBHOOK_SECRET: secret } = values;
  if (url === undefined) {
    if (secret !== undefined) problems.push('WEBHOOK_SECRET is set but WEBHOOK_URL is not');
    return undefined;
  }
  if (!isHttpUrl(url)) problems.push('WEBHOOK_URL=<hidden>: must be an http:// or https:// URL');
  if (secret === undefined) {
    problems.push('WEBHOOK_SECRET is required with WEBHOOK_URL (16+ characters; it signs every webhook)');
  }
  const retryScheduleMs = values.WEBHOOK_RETRY_SCHEDULE_MS.split(',').map(Number);
  if (retryScheduleMs.length > MAX_WEBHOOK_RETRIES || retryScheduleMs.some((ms) => ms < 1)) {
    problems.push(`WEBHOOK_RETRY_SCHEDULE_MS must list 1 to ${MAX_WEBHOOK_RETRIES} waits of at least 1 ms`);
  }
  return { url, secret: secret ?? '', timeoutMs: values.WEBHOOK_TIMEOUT_MS, retryScheduleMs };
}

function isHttpUrl(raw: string): boolean {
  try {
    const { protocol, hostname } = new URL(raw);
    return (protocol === 'http:' || protocol === 'https:') && hostname !== '';
  } catch {
    return false;
  }
}

const VAPID_VARIABLES = ['VAPID_PUBLIC_KEY', 'VAPID_PRIVATE_KEY', 'VAPID_SUBJECT'] as const;

/**
 * The VAPID variables go together: one or two of them → a problem naming the missing ones. The keys
 * must be base64url (no padding) of a P-256 key pair — the public one the uncompressed point of the
 * private one (`npx web-push generate-vapid-keys` prints such a pair). Never prints the private key.
 */
export function vapidProblems(env: Pick<EnvironmentVariables, (typeof VAPID_VARIABLES)[number]>): string[] {
  const missing = VAPID_VARIABLES.filter((name) => !env[name]);
  if (missing.length === VAPID_VARIABLES.length) return [];
  if (missing.length > 0) {
    const set = VAPID_VARIABLES.filter((name) => env[name]);
    return [
      `${missing.join(' and ')} must be set too: Web Push needs all of ${VAPID_VARIABLES.join(', ')} (${set.join(' and ')} set)`,
    ];
  }
  const publicKey = base64url(env.VAPID_PUBLIC_KEY as string);
  const privateKey = base64url(env.VAPID_PRIVATE_KEY as string);
  const problems: string[] = [];
  if (publicKey?.length !== 65 || publicKey[0] !== 0x04)
    problems.push(
      'VAPID_PUBLIC_KEY must be base64url (no padding) of an uncompressed P-256 public key (65 bytes)',
    );
  if (privateKey?.length !== 32)
    problems.push('VAPID_PRIVATE_KEY must be base64url (no padding) of a P-256 private key (32 bytes)');
  if (problems.length > 0 || !publicKey || !privateKey) return problems;
  const ecdh = createECDH('prime256v1');
  try {
    ecdh.setPrivateKey(privateKey);
  } catch {
    return ['VAPID_PRIVATE_KEY is not a valid P-256 private key'];
  }
  if (!ecdh.getPublicKey().equals(publicKey))
    return ['VAPID_PUBLIC_KEY is not the public key of VAPID_PRIVATE_KEY (generate the pair together)'];
  return [];
}

function base64url(value: string): Buffer | undefined {
  return /^[A-Za-z0-9_-]+$/.test(value) ? Buffer.from(value, 'base64url') : undefined;
}

const randomSecret = (): string => randomBytes(24).toString('base64url');

/**
 * Validates the environment once. In production, client tokens need a key (JWT_SECRET, JWT_PUBLIC_KEY
 * or JWKS_URL) and publishers need API_KEYS; elsewhere what is missing is generated (and printed by the
 * start-up banner) so a fresh `npm start` is usable at once.
 */
export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const result = validateEnvironment(env);
  if (!result.values) throw new ConfigError(result.problems);
  const values = result.values;
  const production = values.NODE_ENV === 'production';
  const problems: string[] = [];
  if (production && !values.JWT_SECRET && !values.JWT_PUBLIC_KEY && !values.JWKS_URL) {
    problems.push('JWT_SECRET is required when NODE_ENV=production (or JWT_PUBLIC_KEY, or JWKS_URL)');
  }
  if (production && !values.API_KEYS) problems.push('API_KEYS is required when NODE_ENV=production');
  const publicKey = values.JWT_PUBLIC_KEY === undefined ? undefined : readPublicKey(values.JWT_PUBLIC_KEY);
  if (typeof publicKey === 'string') problems.push(publicKey);
  const jwksProblem = values.JWKS_URL === undefined ? undefined : jwksUrlProblem(values.JWKS_URL);
  if (jwksProblem) problems.push(jwksProblem);
  problems.push(...vapidProblems(values));
  const redis = parseRedisTopology(values);
  if (Array.isArray(redis)) problems.push(...redis);
  const webhook = readWebhookConfig(values, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  const generated: GeneratedSecrets = {};
  if (!values.JWT_SECRET && !values.JWT_PUBLIC_KEY && !values.JWKS_URL) generated.jwtSecret = randomSecret();
  if (!values.API_KEYS) generated.apiKey = { name: 'dev', secret: randomSecret(), scopes: EVERY_SCOPE };
  const apiKeys = values.API_KEYS ? parseApiKeys(values.API_KEYS) : [generated.apiKey as ApiKey];
  const duplicate = apiKeys.find(
    (key, index) => apiKeys.findIndex((other) => other.name === key.name) !== index,
  );
  if (duplicate) throw new ConfigError([`API_KEYS names the key "${duplicate.name}" twice`]);
  const clientKeys: ClientTokenKeys = {
    jwtSecret: values.JWT_SECRET ?? generated.jwtSecret,
    jwtPublicKey: typeof publicKey === 'object' ? publicKey : undefined,
    jwksUrl: values.JWKS_URL,
  };
  return new AppConfig(values, generated, clientKeys, apiKeys, redis as RedisTopology | undefined, webhook);
}
