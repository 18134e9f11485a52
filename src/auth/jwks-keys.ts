import { Logger } from '@nestjs/common';
import {
  createLocalJWKSet,
  errors,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
} from 'jose';

/** An unknown `kid` fetches the document again at most this often (also while the host is down). */
export const JWKS_REFETCH_INTERVAL_MS = 30_000;
/** A document older than this is fetched again in the background; the old keys serve meanwhile. */
export const JWKS_MAX_AGE_MS = 10 * 60_000;
const JWKS_FETCH_TIMEOUT_MS = 5_000;

type KeySet = ReturnType<typeof createLocalJWKSet>;
type VerificationKey = Awaited<ReturnType<KeySet>>;

/**
 * The keys of an identity provider's JWKS document (JWKS_URL). Key selection (by `kid`, `alg` and key
 * type) is jose's `createLocalJWKSet`; this class only decides when to fetch, because jose's remote set
 * stops verifying once its cache is stale and the host is down, and times its cooldown from the last
 * success (a down host would be asked on every unknown `kid`). Here:
 * - the first token fetches the document (one fetch, shared by concurrent tokens);
 * - an unknown `kid` (a rotated-in key) fetches it again, at most once per
 *   {@link JWKS_REFETCH_INTERVAL_MS}, counted from the last attempt, successful or not;
 * - a document older than {@link JWKS_MAX_AGE_MS} is refreshed in the background (removed keys stop
 *   verifying), while the keys already held keep verifying — also when the host is down.
 */
export class JwksKeys {
  private readonly logger = new Logger(JwksKeys.name);
  private keys: KeySet | undefined;
  private fetchedAt = 0;
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly url: URL,
    private readonly now: () => number = Date.now,
  ) {}

  /** jose's key-lookup function (for `jwtVerify`). */
  readonly getKey = async (
    header: JWSHeaderParameters,
    token: FlattenedJWSInput,
  ): Promise<VerificationKey> => {
    if (!this.keys) await this.refetch();
    else if (this.now() - this.fetchedAt > JWKS_MAX_AGE_MS) void this.refetch();
    const keys = this.keys;
    if (!keys) throw new errors.JOSEError(`the JWKS at ${this.url.origin} is unavailable`);
    try {
      return await keys(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey) || !this.mayFetch()) throw error;
      await this.refetch();
      return (this.keys ?? keys)(header, token);
    }
  };

  private mayFetch(): boolean {
    return this.pending !== undefined || this.now() - this.attemptedAt >= JWKS_REFETCH_INTERVAL_MS;
  }

  /** Fetches the document (one fetch at a time, at most one attempt per interval); never rejects: a failure is logged. */
  private refetch(): Promise<void> {
    if (this.pending) return this.pending;
    if (!this.mayFetch()) return Promise.resolve();
    this.attemptedAt = this.now();
    this.pending = this.download()
      .then((document) => {
        this.keys = createLocalJWKSet(document);
        this.fetchedAt = this.now();
      })
      .catch((error: Error) => {
        this.logger.warn(`JWKS_URL fetch failed (keeping the keys held): ${error.message}`);
      })
      .finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async download(): Promise<JSONWebKeySet> {
    const response = await fetch(this.url, {
      redirect: 'error',
      headers: { accept: 'application/jwk-set+json, application/json' },
      signal: AbortSignal.timeout(JWKS_FETCH_TIMEOUT_MS),
    });
    if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
    return (await response.json()) as JSONWebKeySet;
  }
}
