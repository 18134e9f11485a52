/**
 * What the bench publishes. Every system carries the same payload; the receiving client reads `t`,
 * the monotonic ms (see clock.ts) at which the publisher built the request, to measure latency.
 */
export const BENCH_TYPE = 'bench';
export const BENCH_TOPIC = 'bench';
/** Topic patterns a bench client's token allows (Herald: an exact name, or a prefix ending in `*`). */
export const BENCH_TOKEN_TOPICS = [BENCH_TOPIC, `${BENCH_TOPIC}.*`];
const PAD = 'x'.repeat(48);

export interface BenchPayload {
  t: number;
  pad: string;
}

export interface PublishBody {
  users?: string[];
  topics?: string[];
  type: string;
  payload: BenchPayload;
}

export function personalBody(user: string, t: number): PublishBody {
  return { users: [user], type: BENCH_TYPE, payload: { t, pad: PAD } };
}

export function topicBody(topic: string, t: number): PublishBody {
  return { topics: [topic], type: BENCH_TYPE, payload: { t, pad: PAD } };
}

export function userIds(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`);
}
