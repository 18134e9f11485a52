import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { signClientToken, type ClientTokenClaims, type ClientTokenKey } from './client-token';
import { HeraldError } from './errors';
import { chunkBatches, DEFAULT_MAX_PAYLOAD_BYTES, planParts } from './limits';
import { DEFAULT_RETRY, parseRetryAfter, RETRYABLE_STATUSES, retryDelayMs, type RetryOptions } from './retry';
import type {
  BatchItem,
  BatchResponse,
  ChannelName,
  Delivery,
  DeliveryStatusResponse,
  ErrorBody,
  HistoryResponse,
  PresenceResponse,
  PublishBody,
  PublishResponse,
} from './wire';

export interface HeraldPublisherOptions {
  /** Herald's base URL, e.g. `https://herald.internal:3000`. */
  url: string;
  /** One of Herald's `API_KEYS` (the secret part). */
  apiKey: string;
  /** Herald's `MAX_PAYLOAD_BYTES` (default 65,536): publishes and batch items are cut to fit it. */
  maxPayloadBytes?: number;
  /** How long one call may take, retries included, in ms (default 30,000). */
  deadlineMs?: number;
  /** How long one HTTP attempt may take before it is abandoned and retried, in ms (default 10,000). */
  attemptTimeoutMs?: number;
  retry?: RetryOptions;
  /** Batch requests one `notifyMany` keeps in flight at once (default 4). */
  concurrency?: number;
  /** Called before each retry's wait: log it, count it. */
  onRetry?: (event: RetryEvent) => void;
  /** The key `signClientToken` signs with. */
  clientTokenKey?: ClientTokenKey;
  /** Default: Node's global `fetch` (undici, keep-alive). Pass one to use your own dispatcher. */
  fetch?: typeof globalThis.fetch;
}

/** Per call. */
export interface CallOptions {
  /** Overrides the publisher's `deadlineMs` for this call. */
  deadlineMs?: number;
  /** Aborts the call (and its retries) with a HeraldError of kind `aborted`. */
  signal?: AbortSignal;
}

export interface PublishOptions extends CallOptions {
  /**
   * The call's Idempotency-Key (1–200 printable ASCII characters; default a new UUID). Calling again with the same key
   * and body — after a crash, or after this call threw — delivers nothing twice.
   */
  idempotencyKey?: string;
}

export interface RetryEvent {
  method: string;
  path: string;
  /** 1 for the first retry of this call, then 2, 3… */
  retry: number;
  delayMs: number;
  /** The status that asked for the retry, or 0 for no answer. */
  status: number;
  message: string;
  /** Batch requests: how many items are being sent again. */
  items?: number;
}

/** A logical publish as Herald stored it: one notification, or one per part when its users were split. */
export interface Published {
  /** The notification id (the first part's when there were several: `ids` has them all). */
  id: string;
  /** One id per part: several when `users` had to be split to fit `MAX_PAYLOAD_BYTES` or 10,000 users. */
  ids: string[];
  /** Every channel it was stored in, over all parts. */
  deliveries: Delivery[];
}

export interface NotifyResult extends Published {
  /** The key the call used: pass it again to retry the whole call safely. */
  idempotencyKey: string;
  /** HTTP attempts after the first, over the whole call. */
  retries: number;
}

/** Per body, in order: what was stored, or the final error of that body (e.g. a 400 naming its field). */
export type NotifyManyItemResult = Published | { error: HeraldError };

export interface NotifyManyResult {
  results: NotifyManyItemResult[];
  /** The key the call used (item `i` is keyed `<key>:<i>` unless it carries its own `idempotencyKey`). */
  idempotencyKey: string;
  retries: number;
}

export interface HistoryOptions extends CallOptions {
  /** Return offsets greater than this (default 0). */
  after?: number;
  /** At most this many, 1–1,000 (default 100). */
  limit?: number;
}

/** One logical call: its deadline, the caller's signal, and the retries made so far. */
interface Call {
  deadline: number;
  deadlineMs: number;
  signal?: AbortSignal;
  retries: number;
}

/** What an attempt found: the call's value, or a reason to try again. */
type Attempt<T> = { done: T } | { retry: RetryReason };

interface RetryReason {
  /** No answer because the call's deadline cut the attempt short (the previous answer says more). */
  cutByDeadline?: boolean;
  status: number;
  error: string;
  message: string;
  requestId?: string;
  retryAfterMs?: number;
  items?: number;
  cause?: unknown;
}

/** One HTTP exchange's outcome; `status` 0 when no answer came (then `failure` says why). */
interface Answer {
  status: number;
  requestId?: string;
  retryAfterMs?: number;
  text: string;
  failure?: { message: string; cause: unknown; cutByDeadline: boolean };
}

const USER_AGENT = '@herald/publisher';

/**
 * A Herald publisher for backend services: one per process, safe to share (keep-alive connections
 * are pooled by `fetch`). Every publish carries an Idempotency-Key that stays the same across its
 * retries, so a retry after a 503, a 429, or a connection lost after the request was sent never
 * delivers twice.
 */
export class HeraldPublisher {
  private readonly baseUrl: string;
  private readonly maxPayloadBytes: number;
  private readonly deadlineMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly retry: Required<RetryOptions>;
  private readonly concurrency: number;
  private readonly fetch: typeof globalThis.fetch;

  constructor(private readonly options: HeraldPublisherOptions) {
    if (!/^https?:\/\/[^/]/.test(options.url) || !URL.canParse(options.url))
      throw localError(`url must be http(s)://…, not ${options.url}`);
    if (!options.apiKey) throw localError('apiKey is required');
    this.baseUrl = options.url.replace(/\/+$/, '');
    this.maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.deadlineMs = options.deadlineMs ?? 30_000;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 10_000;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /**
   * Publishes one notification (`POST /v1/notifications`). A body over `MAX_PAYLOAD_BYTES` or 10,000
   * users is split by its users into several notifications (see `Published.ids`), sent as one batch.
   */
  async notify(body: PublishBody, options: PublishOptions = {}): Promise<NotifyResult> {
    const idempotencyKey = callKeyOf(options);
    const call = this.startCall(options);
    const parts = planParts(body, idempotencyKey, this.maxPayloadBytes);
    if (parts.length === 1) {
      const { idempotencyKey: key, ...single } = parts[0];
      const response = await this.send<PublishResponse>(call, 'POST', '/v1/notifications', {
        body: JSON.stringify(single),
        headers: { 'idempotency-key': key ?? idempotencyKey },
      });
      return { ...publishedOf([response]), idempotencyKey, retries: call.retries };
    }
    const results = await this.publishItems(call, parts);
    const failure = results.find((result) => result instanceof HeraldError);
    if (failure) throw failure;
    return { ...publishedOf(results as PublishResponse[]), idempotencyKey, retries: call.retries };
  }

  /**
   * Publishes many notifications through `POST /v1/notifications/batch`, in requests of at most 1,000
   * items and 16 MiB, each item at most `MAX_PAYLOAD_BYTES` (split by users when larger). Resolves
   * once every body is stored or has failed for good; an item Herald answered with a retryable error
   * (503…) is sent again under its key. Throws a HeraldError when the call as a whole failed (the
   * deadline passed, a 401…): calling again with the same `idempotencyKey` then completes it.
   */
  async notifyMany(bodies: readonly BatchItem[], options: PublishOptions = {}): Promise<NotifyManyResult> {
    const idempotencyKey = callKeyOf(options);
    const call = this.startCall(options);
    const planned = bodies.map((body, index) => {
      const { idempotencyKey: own, ...publish } = body;
      try {
        return planParts(publish, own ?? `${idempotencyKey}:${index}`, this.maxPayloadBytes);
      } catch (error) {
        if (error instanceof HeraldError) return error;
        throw error;
      }
    });
    const parts = planned.flatMap((plan) => (plan instanceof HeraldError ? [] : plan));
    const stored = await this.publishItems(call, parts);
    let next = 0;
    const results = planned.map((plan): NotifyManyItemResult => {
      if (plan instanceof HeraldError) return { error: plan };
      const own = stored.slice(next, (next += plan.length));
      const failure = own.find((result) => result instanceof HeraldError);
      return failure ? { error: failure } : publishedOf(own as PublishResponse[]);
    });
    return { results, idempotencyKey, retries: call.retries };
  }

  /** `GET /v1/channels/<channel>/history`: stored notifications after `after`, oldest first. */
  history(channel: ChannelName, options: HistoryOptions = {}): Promise<HistoryResponse> {
    const query = new URLSearchParams();
    if (options.after !== undefined) query.set('after', String(options.after));
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    const search = query.size > 0 ? `?${query.toString()}` : '';
    return this.get(`/v1/channels/${encodeURIComponent(channel)}/history${search}`, options);
  }

  /** `GET /v1/presence/<userId>`: the user's live connections across the cluster. */
  presence(userId: string, options: CallOptions = {}): Promise<PresenceResponse> {
    return this.get(`/v1/presence/${encodeURIComponent(userId)}`, options);
  }

  /** `GET /v1/notifications/<id>/status`: per target user, where a notification published with `push` stands. */
  status(notificationId: string, options: CallOptions = {}): Promise<DeliveryStatusResponse> {
    return this.get(`/v1/notifications/${encodeURIComponent(notificationId)}/status`, options);
  }

  /** A client token for `/v1/ws` and `/v1/sse`, signed with the `clientTokenKey` option. */
  signClientToken(claims: ClientTokenClaims): string {
    if (!this.options.clientTokenKey) throw localError('signClientToken needs the clientTokenKey option');
    return signClientToken(claims, this.options.clientTokenKey);
  }

  private get<T>(path: string, options: CallOptions): Promise<T> {
    return this.send<T>(this.startCall(options), 'GET', path, {});
  }

  private startCall(options: CallOptions): Call {
    const deadlineMs = options.deadlineMs ?? this.deadlineMs;
    return { deadline: Date.now() + deadlineMs, deadlineMs, signal: options.signal, retries: 0 };
  }

  /** One request, retried while its answer says so: the parsed 2xx body, or a HeraldError. */
  private send<T>(
    call: Call,
    method: string,
    path: string,
    request: { body?: string; headers?: Record<string, string> },
  ): Promise<T> {
    return this.withRetries(call, method, path, async (): Promise<Attempt<T>> => {
      const answer = await this.attempt(call, method, path, request);
      if (answer.status >= 200 && answer.status < 300) return { done: parseBody<T>(answer, method, path) };
      const reason = reasonOf(answer);
      if (answer.status !== 0 && !RETRYABLE_STATUSES.has(answer.status))
        throw new HeraldError({ kind: 'http', ...reason, retries: call.retries });
      return { retry: reason };
    });
  }

  /**
   * Sends batch items (each already keyed) in chunks, `concurrency` at a time, and sends again, under
   * the same keys, those Herald answered with a retryable error. Per item, in order: its response or its
   * final error.
   */
  private async publishItems(
    call: Call,
    items: readonly BatchItem[],
  ): Promise<(PublishResponse | HeraldError)[]> {
    const json = items.map((item) => JSON.stringify(item));
    const results = new Array<PublishResponse | HeraldError>(items.length);
    const chunks = chunkBatches(json.map((text) => Buffer.byteLength(text)));
    const sendChunk = async (chunk: number[]): Promise<void> => {
      let pending = chunk;
      await this.withRetries(call, 'POST', '/v1/notifications/batch', async (): Promise<Attempt<void>> => {
        const response = await this.send<BatchResponse>(call, 'POST', '/v1/notifications/batch', {
          body: `{"notifications":[${pending.map((index) => json[index]).join(',')}]}`,
        });
        if (!Array.isArray(response.results) || response.results.length !== pending.length) {
          throw new HeraldError({
            kind: 'http',
            status: 202,
            error: 'Bad Response',
            message: `POST /v1/notifications/batch: the answer does not have one result per item (${pending.length})`,
            retries: call.retries,
          });
        }
        const again: number[] = [];
        let reason: RetryReason | undefined;
        pending.forEach((index, i) => {
          const result = response.results[i];
          if (!('error' in result)) results[index] = result;
          else if (RETRYABLE_STATUSES.has(result.error.statusCode)) {
            again.push(index);
            reason ??= {
              status: result.error.statusCode,
              error: result.error.error,
              message: result.error.message,
            };
          } else results[index] = itemError(result.error, call);
        });
        pending = again;
        return reason ? { retry: { ...reason, items: again.length } } : { done: undefined };
      });
    };
    await inPool(chunks, this.concurrency, sendChunk);
    return results;
  }

  /**
   * Runs `attempt` until it is done, waiting between tries (full-jitter backoff, never less than
   * `Retry-After`), as long as the next try can start before the call's deadline.
   */
  private async withRetries<T>(
    call: Call,
    method: string,
    path: string,
    attempt: () => Promise<Attempt<T>>,
  ): Promise<T> {
    let lastReason: RetryReason | undefined;
    for (;;) {
      const outcome = await attempt();
      if ('done' in outcome) return outcome.done;
      const reason = outcome.retry.cutByDeadline && lastReason ? lastReason : outcome.retry;
      lastReason = reason;
      const retry = call.retries + 1;
      const delayMs = retryDelayMs(retry, reason.retryAfterMs, this.retry);
      const outOfRetries = call.retries >= this.retry.maxRetries;
      if (outOfRetries || Date.now() + delayMs >= call.deadline) {
        const limit = outOfRetries
          ? `maxRetries (${this.retry.maxRetries})`
          : `the ${call.deadlineMs} ms deadline`;
        throw new HeraldError({
          kind: outOfRetries ? (reason.status === 0 ? 'network' : 'http') : 'deadline',
          status: reason.status,
          error: reason.error,
          message: `${method} ${path}: gave up after ${call.retries} retries (${limit}); last: ${reason.message}`,
          requestId: reason.requestId,
          retries: call.retries,
          cause: reason.cause,
        });
      }
      this.options.onRetry?.({
        method,
        path,
        retry,
        delayMs,
        status: reason.status,
        message: reason.message,
        items: reason.items,
      });
      call.retries = retry;
      try {
        await sleep(delayMs, undefined, { signal: call.signal });
      } catch (error) {
        throw abortedError(method, path, call, error);
      }
    }
  }

  /** One HTTP exchange; no answer at all comes back as a status-0 answer (retryable), not a throw. */
  private async attempt(
    call: Call,
    method: string,
    path: string,
    { body, headers = {} }: { body?: string; headers?: Record<string, string> },
  ): Promise<Answer> {
    if (call.signal?.aborted) throw abortedError(method, path, call, call.signal.reason);
    const attemptMs = Math.max(1, Math.min(this.attemptTimeoutMs, call.deadline - Date.now()));
    const timeout = AbortSignal.timeout(attemptMs);
    const signal = call.signal ? AbortSignal.any([call.signal, timeout]) : timeout;
    try {
      const response = await this.fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          'user-agent': USER_AGENT,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body,
        signal,
      });
      const text = await response.text();
      return {
        status: response.status,
        requestId: response.headers.get('x-request-id') ?? undefined,
        retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
        text,
      };
    } catch (error) {
      if (call.signal?.aborted) throw abortedError(method, path, call, error);
      const why = timeout.aborted ? `no answer within ${attemptMs} ms` : describeNetworkError(error);
      return {
        status: 0,
        text: '',
        failure: {
          message: `${method} ${this.baseUrl}${path}: ${why}`,
          cause: error,
          cutByDeadline: timeout.aborted && attemptMs < this.attemptTimeoutMs,
        },
      };
    }
  }
}

/**
 * The call's Idempotency-Key: the caller's, checked (it travels as an HTTP header: 1–200 printable
 * ASCII characters), or a new UUID.
 */
function callKeyOf(options: PublishOptions): string {
  const key = options.idempotencyKey;
  if (key === undefined) return randomUUID();
  if (!/^[\x20-\x7e]{1,200}$/.test(key))
    throw localError('idempotencyKey must be 1-200 printable ASCII characters');
  return key;
}

/** Why an answer that is not a 2xx failed: its error body, or why there was no answer. */
function reasonOf(answer: Answer): RetryReason {
  if (answer.failure) {
    return {
      status: 0,
      error: 'Network Error',
      message: answer.failure.message,
      cause: answer.failure.cause,
      cutByDeadline: answer.failure.cutByDeadline,
    };
  }
  const body = parseJson(answer.text) as Partial<ErrorBody> | undefined;
  const fallback = answer.text.trim().slice(0, 200) || 'no error body';
  return {
    status: answer.status,
    error: typeof body?.error === 'string' ? body.error : (STATUS_CODES[answer.status] ?? 'Error'),
    message: typeof body?.message === 'string' ? body.message : `HTTP ${answer.status}: ${fallback}`,
    requestId: answer.requestId,
    retryAfterMs: answer.retryAfterMs,
  };
}

function parseBody<T>(answer: Answer, method: string, path: string): T {
  const body = parseJson(answer.text);
  if (body === undefined) {
    throw new HeraldError({
      kind: 'http',
      status: answer.status,
      error: 'Bad Response',
      message: `${method} ${path}: the ${answer.status} answer is not JSON`,
      requestId: answer.requestId,
    });
  }
  return body as T;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

const itemError = (error: ErrorBody, call: Call): HeraldError =>
  new HeraldError({
    kind: 'http',
    status: error.statusCode,
    error: error.error,
    message: error.message,
    retries: call.retries,
  });

function publishedOf(responses: readonly PublishResponse[]): Published {
  return {
    id: responses[0].id,
    ids: responses.map((response) => response.id),
    deliveries: responses.flatMap((response) => response.deliveries),
  };
}

const localError = (message: string): HeraldError =>
  new HeraldError({ kind: 'local', status: 0, error: 'Invalid Options', message });

const abortedError = (method: string, path: string, call: Call, cause: unknown): HeraldError =>
  new HeraldError({
    kind: 'aborted',
    status: 0,
    error: 'Aborted',
    message: `${method} ${path}: aborted by the caller after ${call.retries} retries`,
    retries: call.retries,
    cause,
  });

/**
 * fetch's `TypeError('fetch failed')` says little; its cause has the socket's error code. Read by
 * shape, not `instanceof`: the error may come from another realm (a test runner's VM context).
 */
function describeNetworkError(error: unknown): string {
  const { message, cause } = (typeof error === 'object' && error !== null ? error : {}) as {
    message?: unknown;
    cause?: { code?: unknown; message?: unknown };
  };
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const detail =
    typeof cause?.message === 'string'
      ? cause.message
      : typeof message === 'string'
        ? message
        : String(error);
  return code && !detail.includes(code) ? `${code} (${detail})` : detail;
}

/** Runs `work` over `items` with at most `limit` in flight; rejects with the first failure once all have settled. */
async function inPool<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const failures: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++];
      await work(item).catch((error: unknown) => void failures.push(error));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failures.length > 0) throw failures[0];
}
