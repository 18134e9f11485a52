import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  UnprocessableEntityException,
} from '@nestjs/common';
import { createHash } from 'node:crypto';
import { isWellFormed } from '../common/channel';
import { AppConfig } from '../config/app-config';
import { IdempotencyStore } from './idempotency.store';

/** How long a claimed key stays pending if its holder dies before answering. */
const PENDING_TTL_SECONDS = 10;
/** How long a duplicate request waits for the first one's response before answering 409. */
const PENDING_WAIT_MS = 5000;
const POLL_MS = 25;
/** How often a release that failed (the engine unreachable) is tried again, while the claim lasts. */
const RELEASE_RETRY_MS = 250;

export interface IdempotentOutcome<T> {
  response: T;
  /** True when this is the stored response of an earlier request with the same key. */
  replayed: boolean;
}

/**
 * Runs an operation at most once per (API key, Idempotency-Key) within IDEMPOTENCY_TTL_SECONDS,
 * whichever replica the retries reach: the first request claims the key and runs; the others get
 * its response. A different body under the same key is refused (422). If the operation fails, the
 * key is released so that a retry can run it — also when the engine is unreachable at that moment (a
 * failover): the release is tried again until it lands or the claim has expired, so that the retries
 * do not wait out the pending TTL once the new master serves.
 */
@Injectable()
export class IdempotentExecution {
  constructor(
    @Inject(IdempotencyStore) private readonly store: IdempotencyStore,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  async run<T>(
    scope: string,
    key: string,
    request: unknown,
    operation: (fingerprint: string) => Promise<T>,
  ): Promise<IdempotentOutcome<T>> {
    if (key.length < 1 || key.length > 200 || !isWellFormed(key)) {
      throw new BadRequestException('Idempotency-Key must be 1-200 characters of well-formed Unicode');
    }
    const fingerprint = fingerprintOf(request);
    const deadline = Date.now() + PENDING_WAIT_MS;
    for (;;) {
      const claim = await this.store.claim(scope, key, fingerprint, PENDING_TTL_SECONDS);
      if (claim.claimed)
        return {
          response: await this.execute(scope, key, fingerprint, claim.attempt, operation),
          replayed: false,
        };
      const record = claim.record;
      if (record.fingerprint !== fingerprint) {
        throw new UnprocessableEntityException(
          'Idempotency-Key was already used with a different request body',
        );
      }
      if (record.state === 'done') return { response: record.response as T, replayed: true };
      if (Date.now() > deadline) {
        throw new ConflictException('a request with this Idempotency-Key is still in progress; retry later');
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  private async execute<T>(
    scope: string,
    key: string,
    fingerprint: string,
    attempt: string,
    operation: (fingerprint: string) => Promise<T>,
  ): Promise<T> {
    const claimExpires = Date.now() + PENDING_TTL_SECONDS * 1000;
    try {
      const response = await operation(fingerprint);
      await this.store.complete(
        scope,
        key,
        { state: 'done', fingerprint, response },
        this.config.idempotencyTtlSeconds,
      );
      return response;
    } catch (error) {
      // Also after a failed completion: the retry that takes the key publishes the same notification
      // id, which the engine recognises as stored (no duplicate) and answers with its delivery.
      await this.release(scope, key, attempt, claimExpires);
      throw error;
    }
  }

  /** Releases the claim; if the engine does not answer, keeps trying in the background until `until`. */
  private async release(scope: string, key: string, attempt: string, until: number): Promise<void> {
    const released = () =>
      this.store.release(scope, key, attempt).then(
        () => true,
        () => false,
      );
    if (await released()) return;
    void (async () => {
      while (Date.now() + RELEASE_RETRY_MS < until) {
        await new Promise((resolve) => setTimeout(resolve, RELEASE_RETRY_MS).unref());
        if (await released()) return;
      }
    })();
  }
}

/**
 * The notification id of a publish under an Idempotency-Key: the same for every retry of the same
 * request (API key, Idempotency-Key, body fingerprint), different otherwise. A UUID (RFC 9562 version 8) made
 * from a SHA-256 digest.
 */
export function idempotentNotificationId(scope: string, key: string, fingerprint: string): string {
  const hex = createHash('sha256').update(`${scope}\n${key}\n${fingerprint}`).digest('hex');
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** A digest of the request that ignores the order of object keys. */
export function fingerprintOf(value: unknown): string {
  return createHash('sha256').update(stableJson(value)).digest('base64url');
}

/**
 * JSON with object keys sorted, built without recursion (a hostile value may nest deeper than the
 * stack; publish bodies are bounded by validation, this does not rely on it). Pending work is a stack
 * of values still to write and of literal text between them.
 */
function stableJson(root: unknown): string {
  let out = '';
  const pending: ({ text: string } | { value: unknown })[] = [{ value: root }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if ('text' in next) {
      out += next.text;
      continue;
    }
    const { value } = next;
    if (Array.isArray(value)) {
      const parts: ({ text: string } | { value: unknown })[] = [{ text: '[' }];
      value.forEach((item: unknown, i) => {
        if (i > 0) parts.push({ text: ',' });
        parts.push({ value: item === undefined ? null : item });
      });
      parts.push({ text: ']' });
      for (let i = parts.length - 1; i >= 0; i--) pending.push(parts[i]);
    } else if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, item]) => item !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      const parts: ({ text: string } | { value: unknown })[] = [{ text: '{' }];
      entries.forEach(([name, item], i) => {
        parts.push({ text: `${i > 0 ? ',' : ''}${JSON.stringify(name)}:` }, { value: item });
      });
      parts.push({ text: '}' });
      for (let i = parts.length - 1; i >= 0; i--) pending.push(parts[i]);
    } else {
      out += JSON.stringify(value) ?? 'null';
    }
  }
  return out;
}
