import type { FetchLike } from '../../src';

export interface RecordedRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
  keepalive?: boolean;
}

export type FakeAnswer = { status: number; body?: unknown } | Error;

/**
 * A `fetch` for `HeraldClient`'s `fetch` option that records every request and answers from `answer`
 * (default 204; an Error is thrown as a network failure would be).
 */
export function fakeFetch(answer: (request: RecordedRequest) => FakeAnswer = () => ({ status: 204 })): {
  fetch: FetchLike;
  requests: RecordedRequest[];
} {
  const requests: RecordedRequest[] = [];
  const fetch: FetchLike = (url, init) => {
    const request: RecordedRequest = {
      url,
      method: init.method,
      headers: init.headers,
      body: init.body === undefined ? undefined : (JSON.parse(init.body) as unknown),
      keepalive: init.keepalive,
    };
    requests.push(request);
    const answered = answer(request);
    if (answered instanceof Error) return Promise.reject(answered);
    return Promise.resolve({
      status: answered.status,
      json: () =>
        answered.body === undefined
          ? Promise.reject(new SyntaxError('no body'))
          : Promise.resolve(answered.body),
    });
  };
  return { fetch, requests };
}
