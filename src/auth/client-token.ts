import { Inject, Injectable } from '@nestjs/common';
import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import jwt from 'jsonwebtoken';
import { createPublicKey, createSecretKey, KeyObject } from 'node:crypto';
import { isUserId } from '../common/channel';
import { AppConfig, type PublicKeyAlgorithm } from '../config/app-config';
import { JwksKeys } from './jwks-keys';
import { TopicPatterns } from './topic-patterns';

/** What a verified client token grants. `expiresAt` is in milliseconds since the epoch. */
export interface ClientIdentity {
  userId: string;
  expiresAt: number;
  topics: TopicPatterns;
}

/** Shared by every token without a `topics` claim (most of them): one less object per connection. */
const NO_TOPICS = new TopicPatterns([]);

/** The asymmetric algorithms a public key or a JWKS may verify; each key only its own. */
const PUBLIC_KEY_ALGORITHMS: readonly PublicKeyAlgorithm[] = ['RS256', 'ES256', 'EdDSA'];

const isPublicKeyAlgorithm = (alg: unknown): alg is PublicKeyAlgorithm =>
  (PUBLIC_KEY_ALGORITHMS as readonly unknown[]).includes(alg);

export class InvalidTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidTokenError';
  }
}

/**
 * Verifies client JWTs, wherever one is accepted (WebSocket, SSE, refresh). A token is routed by the
 * `alg` of its header to keys of that family only — HS256 to JWT_SECRET, RS256/ES256/EdDSA to
 * JWT_PUBLIC_KEY (when it is of that algorithm) or to the JWKS_URL key named by `kid` — so a public key
 * is never used as an HMAC secret nor a secret as a public key (no algorithm confusion). Then: `exp`
 * and a well-formed `sub` required, `iss`/`aud` checked when JWT_ISSUER/JWT_AUDIENCE are set,
 * optional `topics`.
 */
@Injectable()
export class ClientTokenVerifier {
  /**
   * Made once: given a string, jsonwebtoken first tries to parse it as a PEM public key on every call
   * (and builds the error that fails), which was half of a connect's CPU. HS256 stays on this
   * synchronous path; only the asymmetric ones go through jose.
   */
  private readonly secret: KeyObject | undefined;
  private readonly publicKey: { key: KeyObject; algorithm: PublicKeyAlgorithm } | undefined;
  private readonly jwks: JwksKeys | undefined;
  private readonly issuer: string | undefined;
  private readonly audience: string | undefined;
  /** For refusals: the algorithms some configured key verifies. */
  private readonly accepted: string;

  constructor(@Inject(AppConfig) config: AppConfig) {
    this.secret =
      config.jwtSecret === undefined ? undefined : createSecretKey(Buffer.from(config.jwtSecret, 'utf8'));
    this.publicKey = config.jwtPublicKey && {
      key: createPublicKey(config.jwtPublicKey.pem),
      algorithm: config.jwtPublicKey.algorithm,
    };
    this.jwks = config.jwksUrl === undefined ? undefined : new JwksKeys(new URL(config.jwksUrl));
    this.issuer = config.jwtIssuer;
    this.audience = config.jwtAudience;
    const algorithms = [
      ...(this.secret ? ['HS256'] : []),
      ...(this.jwks ? PUBLIC_KEY_ALGORITHMS : this.publicKey ? [this.publicKey.algorithm] : []),
    ];
    this.accepted = algorithms.join(', ');
  }

  async verify(token: string): Promise<ClientIdentity> {
    // With JWT_SECRET alone (the common case) the header is not decoded twice: jsonwebtoken refuses
    // every other algorithm itself.
    if (!this.publicKey && !this.jwks) return this.identityOf(this.verifySecret(token));
    const { alg, kid } = headerOf(token);
    if (alg === 'HS256' && this.secret) return this.identityOf(this.verifySecret(token));
    if (isPublicKeyAlgorithm(alg)) return this.identityOf(await this.verifyPublic(token, alg, kid));
    throw this.wrongAlgorithm();
  }

  private wrongAlgorithm(): InvalidTokenError {
    return new InvalidTokenError(`invalid token: invalid algorithm (${this.accepted} accepted)`);
  }

  private verifySecret(token: string): Record<string, unknown> {
    if (!this.secret) throw this.wrongAlgorithm();
    let claims: string | jwt.JwtPayload;
    try {
      claims = jwt.verify(token, this.secret, { algorithms: ['HS256'] });
    } catch (error) {
      throw new InvalidTokenError(describe(error));
    }
    if (typeof claims === 'string') throw new InvalidTokenError('token payload is not a JSON object');
    return claims;
  }

  /** A PEM key of the token's algorithm when there is one and the token names no `kid`; else the JWKS. */
  private async verifyPublic(token: string, alg: PublicKeyAlgorithm, kid: unknown): Promise<JWTPayload> {
    const pem = this.publicKey?.algorithm === alg ? this.publicKey.key : undefined;
    const jwks = this.jwks && (pem === undefined || kid !== undefined) ? this.jwks : undefined;
    if (!pem && !jwks) throw this.wrongAlgorithm();
    try {
      const { payload } = jwks
        ? await jwtVerify(token, jwks.getKey, { algorithms: [alg] })
        : await jwtVerify(token, pem as KeyObject, { algorithms: [alg] });
      return payload;
    } catch (error) {
      throw new InvalidTokenError(describe(error));
    }
  }

  private identityOf(claims: Record<string, unknown>): ClientIdentity {
    if (this.issuer !== undefined && claims.iss !== this.issuer)
      throw new InvalidTokenError('invalid token: `iss` is not JWT_ISSUER');
    if (this.audience !== undefined && !audienceIncludes(claims.aud, this.audience))
      throw new InvalidTokenError('invalid token: `aud` does not name JWT_AUDIENCE');
    if (!isUserId(claims.sub))
      throw new InvalidTokenError(
        'token has no valid `sub` (1-200 chars of well-formed Unicode, no control chars)',
      );
    if (typeof claims.exp !== 'number') throw new InvalidTokenError('token has no `exp`');
    const topics: unknown = claims.topics ?? [];
    if (!Array.isArray(topics) || !topics.every((t): t is string => typeof t === 'string' && t.length > 0)) {
      throw new InvalidTokenError('token `topics` must be an array of non-empty strings');
    }
    return {
      userId: claims.sub,
      expiresAt: claims.exp * 1000,
      topics: topics.length === 0 ? NO_TOPICS : new TopicPatterns(topics),
    };
  }
}

function headerOf(token: string): { alg?: unknown; kid?: unknown } {
  try {
    return decodeProtectedHeader(token);
  } catch {
    throw new InvalidTokenError('invalid token: jwt malformed');
  }
}

const audienceIncludes = (aud: unknown, audience: string): boolean =>
  aud === audience || (Array.isArray(aud) && aud.includes(audience));

function describe(error: unknown): string {
  if (error instanceof InvalidTokenError) return error.message;
  if (error instanceof jwt.TokenExpiredError || error instanceof errors.JWTExpired) return 'token expired';
  if (error instanceof jwt.JsonWebTokenError) return `invalid token: ${error.message}`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'invalid token: invalid signature';
  if (error instanceof errors.JWKSNoMatchingKey)
    return 'invalid token: no JWKS key matches its `kid` and `alg`';
  if (error instanceof errors.JWTClaimValidationFailed) return `invalid token: ${error.message}`;
  if (error instanceof errors.JOSEError) return `invalid token: ${error.message}`;
  return 'invalid token';
}
