import { Agent } from 'node:http';
import { monoMs } from '../support/clock';
import { Histogram } from '../support/histogram';
import { httpRequest } from '../support/http';
import { personalBody } from './payload';
import type { PublishArgs, PublishReport } from './protocol';

const MAX_SAMPLES = 5;

/**
 * Closed-loop publisher: `inFlight` lanes, each sending its next request as soon as the previous one
 * is answered, over keep-alive connections, until `durationMs` has passed or `maxRequests` were sent.
 * Each notification goes to one random user; in batch mode, `batchSize` of them per request.
 */
export async function publish(args: PublishArgs): Promise<PublishReport> {
  const agents = args.urls.map(
    () => new Agent({ keepAlive: true, maxSockets: Math.ceil(args.inFlight / args.urls.length) }),
  );
  const headers = { authorization: `Bearer ${args.apiKey}` };
  const expected: Record<string, number> = {};
  const rtt = new Histogram();
  const errorSamples: string[] = [];
  let requests = 0;
  let accepted = 0;
  let errors = 0;
  let notFound = false;
  const startedAt = monoMs();
  const deadline = startedAt + args.durationMs;

  const pick = (): string => args.users[Math.floor(Math.random() * args.users.length)];
  const fail = (what: string): void => {
    errors++;
    if (errorSamples.length < MAX_SAMPLES) errorSamples.push(what);
  };

  const lane = async (k: number): Promise<void> => {
    const url = args.urls[k % args.urls.length];
    const agent = agents[k % args.urls.length];
    while (!notFound && requests < args.maxRequests && monoMs() < deadline) {
      requests++;
      const t = monoMs();
      const targets = Array.from({ length: Math.max(1, args.batchSize) }, pick);
      const body =
        args.batchSize === 0
          ? JSON.stringify(personalBody(targets[0], t))
          : JSON.stringify({ notifications: targets.map((user) => personalBody(user, t)) });
      try {
        const res = await httpRequest(url, { method: 'POST', body, headers, agent });
        rtt.record(monoMs() - t);
        if (res.status === 404 && args.batchSize > 0) {
          notFound = true;
        } else if (res.status !== 202) {
          fail(`HTTP ${res.status} ${res.body.slice(0, 200)}`);
        } else if (args.batchSize === 0) {
          accepted++;
          expected[targets[0]] = (expected[targets[0]] ?? 0) + 1;
        } else {
          const results = (JSON.parse(res.body) as { results?: Array<{ error?: unknown }> }).results ?? [];
          targets.forEach((user, i) => {
            const result = results[i];
            if (result === undefined || result.error !== undefined) {
              fail(`batch item: ${JSON.stringify(result?.error ?? 'missing result')}`);
            } else {
              accepted++;
              expected[user] = (expected[user] ?? 0) + 1;
            }
          });
        }
      } catch (err) {
        fail(err instanceof Error ? err.message : String(err));
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: args.inFlight }, (_, k) => lane(k)));
  } finally {
    for (const agent of agents) agent.destroy();
  }
  return {
    requests,
    accepted,
    errors,
    errorSamples,
    expected,
    startedAt,
    endedAt: monoMs(),
    rtt: rtt.toData(),
    notFound,
  };
}
