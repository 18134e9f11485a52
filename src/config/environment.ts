import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  validateSync,
} from 'class-validator';

const toInt = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;

/** `true`/`1` and `false`/`0` (any case); anything else stays a string and fails validation. */
const toBoolean = ({ value }: { value: unknown }): unknown => {
  if (typeof value !== 'string') return value;
  const word = value.trim().toLowerCase();
  return word === 'true' || word === '1' ? true : word === 'false' || word === '0' ? false : value;
};
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS: readonly number[] = [
  2_000, 8_000, 32_000, 128_000, 512_000, 2_048_000, 8_192_000, 14_400_000, 14_400_000,
];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * The environment variables of the contract, exactly as they arrive. Validated once at start-up
 * ({@link loadConfig}); nothing else in the service reads `process.env`.
 */
export class EnvironmentVariables {
  @IsOptional()
  @IsIn(['production', 'development', 'test'])
  NODE_ENV?: string;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 3000;

  @IsOptional()
  @Matches(/^rediss?:\/\/[^\s]+$/, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  /** Checked by {@link loadConfig} (see redis-topology.ts). */
  @IsOptional()
  @IsString()
  REDIS_CLUSTER_NODES?: string;

  @IsOptional()
  @IsString()
  REDIS_SENTINELS?: string;

  @IsOptional()
  @IsString()
  REDIS_SENTINEL_MASTER?: string;

  @IsOptional()
  @IsString()
  REDIS_USERNAME?: string;

  @IsOptional()
  @IsString()
  REDIS_PASSWORD?: string;

  @IsOptional()
  @IsString()
  REDIS_SENTINEL_PASSWORD?: string;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(16)
  REDIS_MIN_REPLICAS_ACK = 0;

  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'JWT_SECRET must be at least 16 characters' })
  JWT_SECRET?: string;

  /** PEM (SPKI or PKCS#1); read by {@link loadConfig}, which checks the key type. */
  @IsOptional()
  @IsString()
  JWT_PUBLIC_KEY?: string;

  /** Checked by {@link loadConfig}: https, or http for a loopback host. */
  @IsOptional()
  @IsString()
  JWKS_URL?: string;

  @IsOptional()
  @IsString()
  JWT_ISSUER?: string;

  @IsOptional()
  @IsString()
  JWT_AUDIENCE?: string;

  /** Visible ASCII only: a secret must be sendable in an `Authorization: Bearer` header as it is. */
  @IsOptional()
  @IsString()
  @Matches(/^[\x21-\x2b\x2d-\x7e]+(,[\x21-\x2b\x2d-\x7e]+)*$/, {
    message:
      'API_KEYS must be comma-separated `name:secret`, `name:secret:scope+scope` or `secret` entries of visible ASCII, without spaces',
  })
  API_KEYS?: string;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  HISTORY_SIZE = 1000;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  HISTORY_TTL_SECONDS = 86400;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  IDEMPOTENCY_TTL_SECONDS = 86400;

  @Transform(toInt)
  @IsInt()
  @Min(100)
  HEARTBEAT_INTERVAL_MS = 25000;

  @Transform(toInt)
  @IsInt()
  @Min(1024)
  @Max(16 * 1024 * 1024)
  MAX_PAYLOAD_BYTES = 65536;

  @Transform(toInt)
  @IsInt()
  @Min(1024)
  WS_MAX_BUFFERED_BYTES = 1048576;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  SHUTDOWN_TIMEOUT_MS = 10000;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  MAX_CONNECTIONS_PER_USER = 20;

  @IsIn(LOG_LEVELS)
  LOG_LEVEL: (typeof LOG_LEVELS)[number] = 'info';

  @Transform(toInt)
  @IsInt()
  @Min(0)
  PUBLISH_RATE_LIMIT = 0;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  CONNECT_RATE_LIMIT = 0;

  /** base64url (RFC 8292); with VAPID_PRIVATE_KEY and VAPID_SUBJECT, Web Push is on. Checked by {@link loadConfig}. */
  @IsOptional()
  @IsString()
  VAPID_PUBLIC_KEY?: string;

  @IsOptional()
  @IsString()
  VAPID_PRIVATE_KEY?: string;

  @IsOptional()
  @Matches(/^(mailto:\S+@\S+|https:\/\/\S+)$/, {
    message: 'VAPID_SUBJECT must be a mailto: or https:// contact',
  })
  VAPID_SUBJECT?: string;

  @Transform(toBoolean)
  @IsBoolean({ message: 'PUSH_ALLOW_PRIVATE_ENDPOINTS must be true or false' })
  PUSH_ALLOW_PRIVATE_ENDPOINTS = false;

  /** How often each replica looks for due pushes (each engine bucket, with jitter). Not in the contract: a tuning knob. */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(60_000)
  PUSH_POLL_INTERVAL_MS = 1000;

  /** Checked by {@link loadConfig}: an http:// or https:// URL. Never printed (it may carry a token). */
  @IsOptional()
  @IsString()
  WEBHOOK_URL?: string;

  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'WEBHOOK_SECRET must be at least 16 characters' })
  WEBHOOK_SECRET?: string;

  /** One webhook attempt without a complete answer by then counts as failed (a timeout). */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(60_000)
  WEBHOOK_TIMEOUT_MS = 5000;

  /**
   * The waits before each retry, in ms: retry n waits the n-th entry; after the last, the event is
   * dropped. The default, 2 s × 4ⁿ⁻¹ capped at 4 h: 10 attempts over about 11 h.
   */
  @Matches(/^\d+(,\d+)*$/, {
    message: 'WEBHOOK_RETRY_SCHEDULE_MS must be comma-separated milliseconds, e.g. 2000,8000,32000',
  })
  WEBHOOK_RETRY_SCHEDULE_MS = DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS.join(',');
}

/** Variables whose values a start-up error never prints: they hold credentials (a webhook URL may too). */
export const SECRET_VARIABLES: ReadonlySet<string> = new Set([
  'JWT_SECRET',
  'API_KEYS',
  'REDIS_PASSWORD',
  'REDIS_SENTINEL_PASSWORD',
  'WEBHOOK_URL',
  'WEBHOOK_SECRET',
  'VAPID_PRIVATE_KEY',
]);

/** Validates raw variables; returns the typed values or the list of problems, each naming its variable. */
export function validateEnvironment(
  env: Record<string, string | undefined>,
): { values: EnvironmentVariables; problems: [] } | { values: null; problems: string[] } {
  const known = Object.keys(new EnvironmentVariables()).concat([
    'NODE_ENV',
    'REDIS_URL',
    'REDIS_CLUSTER_NODES',
    'REDIS_SENTINELS',
    'REDIS_SENTINEL_MASTER',
    'REDIS_USERNAME',
    'REDIS_PASSWORD',
    'REDIS_SENTINEL_PASSWORD',
    'JWT_SECRET',
    'JWT_PUBLIC_KEY',
    'JWKS_URL',
    'JWT_ISSUER',
    'JWT_AUDIENCE',
    'API_KEYS',
    'VAPID_PUBLIC_KEY',
    'VAPID_PRIVATE_KEY',
    'VAPID_SUBJECT',
    'WEBHOOK_URL',
    'WEBHOOK_SECRET',
  ]);
  const present = Object.fromEntries(
    known.filter((name) => env[name] !== undefined && env[name] !== '').map((name) => [name, env[name]]),
  );
  const values = plainToInstance(EnvironmentVariables, present);
  const errors = validateSync(values, { forbidUnknownValues: true });
  if (errors.length === 0) return { values, problems: [] };
  const problems = errors.map((error) => {
    const messages = Object.values(error.constraints ?? {});
    const shown = SECRET_VARIABLES.has(error.property) ? '<hidden>' : JSON.stringify(present[error.property]);
    return `${error.property}=${shown}: ${messages.join('; ')}`;
  });
  return { values: null, problems };
}
