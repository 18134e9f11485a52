import { createHmac, createPrivateKey, KeyObject, sign } from 'node:crypto';
import { HeraldError } from './errors';

/** What a client token says: who the user is and which topics they may subscribe to. */
export interface ClientTokenClaims {
  /** The user id (1–200 characters): the connection's `user:<sub>` channel. */
  sub: string;
  /** Topic patterns the user may subscribe to: exact names, `prefix.*`, or `*`. */
  topics?: string[];
  /** Seconds until the token expires (default 3,600). */
  expiresIn?: number;
  /** `iss`, for a Herald that sets `JWT_ISSUER`. */
  issuer?: string;
  /** `aud`, for a Herald that sets `JWT_AUDIENCE`. */
  audience?: string | string[];
}

/**
 * How tokens are signed: HS256 with Herald's `JWT_SECRET`, or with a private key whose public half
 * Herald has (`JWT_PUBLIC_KEY`, or a JWKS by `kid`): RSA → RS256, EC P-256 → ES256, Ed25519 → EdDSA.
 * A PEM string may carry literal `\n` escapes, as environment variables often do.
 */
export type ClientTokenKey = { secret: string } | { privateKey: string | KeyObject; kid?: string };

export type ClientTokenAlgorithm = 'HS256' | 'RS256' | 'ES256' | 'EdDSA';

const DEFAULT_EXPIRES_IN_SECONDS = 3600;
const MAX_USER_ID_LENGTH = 200;

/** A compact JWS (RFC 7515) any JOSE library verifies, with `sub`, `iat`, `exp` and the optional claims. */
export function signClientToken(claims: ClientTokenClaims, key: ClientTokenKey, now = Date.now()): string {
  const { sub, topics, expiresIn = DEFAULT_EXPIRES_IN_SECONDS, issuer, audience } = claims;
  if (typeof sub !== 'string' || sub.length < 1 || sub.length > MAX_USER_ID_LENGTH)
    throw invalid(`sub must be 1-${MAX_USER_ID_LENGTH} characters`);
  if (!Number.isFinite(expiresIn) || expiresIn <= 0)
    throw invalid('expiresIn must be a positive number of seconds');
  const signer = signerOf(key);
  const issuedAt = Math.floor(now / 1000);
  const header = {
    alg: signer.algorithm,
    typ: 'JWT',
    ...(signer.kid === undefined ? {} : { kid: signer.kid }),
  };
  const payload = {
    sub,
    ...(topics === undefined ? {} : { topics }),
    ...(issuer === undefined ? {} : { iss: issuer }),
    ...(audience === undefined ? {} : { aud: audience }),
    iat: issuedAt,
    exp: issuedAt + Math.floor(expiresIn),
  };
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  return `${input}.${signer.sign(Buffer.from(input)).toString('base64url')}`;
}

interface Signer {
  algorithm: ClientTokenAlgorithm;
  kid?: string;
  sign(input: Buffer): Buffer;
}

function signerOf(key: ClientTokenKey): Signer {
  if ('secret' in key) {
    if (key.secret.length === 0) throw invalid('the HS256 secret is empty');
    return { algorithm: 'HS256', sign: (input) => createHmac('sha256', key.secret).update(input).digest() };
  }
  const privateKey = privateKeyOf(key.privateKey);
  const kid = key.kid;
  switch (privateKey.asymmetricKeyType) {
    case 'rsa':
      return { algorithm: 'RS256', kid, sign: (input) => sign('sha256', input, privateKey) };
    case 'ec':
      if (privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
        throw invalid('an EC key must be on P-256 (ES256)');
      // JWS carries ECDSA signatures as r‖s (RFC 7518 §3.4), not DER.
      return {
        algorithm: 'ES256',
        kid,
        sign: (input) => sign('sha256', input, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
      };
    case 'ed25519':
      return { algorithm: 'EdDSA', kid, sign: (input) => sign(null, input, privateKey) };
    case 'rsa-pss':
    case 'dsa':
    case 'ed448':
    case 'x25519':
    case 'x448':
    case undefined:
      throw invalid(
        `a ${privateKey.asymmetricKeyType ?? 'symmetric'} key cannot sign client tokens: use RSA, EC P-256 or Ed25519`,
      );
  }
}

function privateKeyOf(key: string | KeyObject): KeyObject {
  if (typeof key !== 'string') {
    if (key.type !== 'private') throw invalid('the key must be a private key');
    return key;
  }
  try {
    return createPrivateKey(key.replace(/\\n/g, '\n'));
  } catch (error) {
    throw invalid('the private key is not a PEM private key', error);
  }
}

const base64url = (text: string): string => Buffer.from(text).toString('base64url');

const invalid = (message: string, cause?: unknown): HeraldError =>
  new HeraldError({ kind: 'local', status: 0, error: 'Invalid Client Token', message, cause });
