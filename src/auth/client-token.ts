import { Inject, Injectable } from '@nestjs/common';
import jwt from 'jsonwebtoken';
import { createSecretKey, KeyObject } from 'node:crypto';
import { isUserId } from '../common/channel';
import { AppConfig } from '../config/app-config';
import { TopicPatterns } from './topic-patterns';

/** What a verified client token grants. `expiresAt` is in milliseconds since the epoch. */
export interface ClientIdentity {
  userId: string;
  expiresAt: number;
  topics: TopicPatterns;
}

/** Shared by every token without a `topics` claim (most of them): one less object per connection. */
const NO_TOPICS = new TopicPatterns([]);

export class InvalidTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidTokenError';
  }
}

/** Verifies client JWTs: HS256 with JWT_SECRET, `sub` and `exp` required, optional `topics`. */
@Injectable()
export class ClientTokenVerifier {
  /**
   * Made once: given a string, jsonwebtoken first tries to parse it as a PEM public key on every call
   * (and builds the error that fails), which was half of a connect's CPU.
   */
  private readonly key: KeyObject;

  constructor(@Inject(AppConfig) config: AppConfig) {
    this.key = createSecretKey(Buffer.from(config.jwtSecret, 'utf8'));
  }

  verify(token: string): ClientIdentity {
    let claims: string | jwt.JwtPayload;
    try {
      claims = jwt.verify(token, this.key, { algorithms: ['HS256'] });
    } catch (error) {
      throw new InvalidTokenError(describe(error));
    }
    if (typeof claims === 'string') throw new InvalidTokenError('token payload is not a JSON object');
    if (!isUserId(claims.sub))
      throw new InvalidTokenError('token has no valid `sub` (1-200 chars, no control chars)');
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

function describe(error: unknown): string {
  if (error instanceof jwt.TokenExpiredError) return 'token expired';
  if (error instanceof jwt.JsonWebTokenError) return `invalid token: ${error.message}`;
  return 'invalid token';
}
