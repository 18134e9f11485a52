/**
 * A load-generator process (forked by WorkerPool): holds up to a few thousand client connections
 * and/or runs a publisher, and answers the orchestrator's commands (see protocol.ts) over IPC.
 * Exits when its IPC channel closes.
 */
import { monoMs, sleep } from '../support/clock';
import { Histogram } from '../support/histogram';
import { BenchConnection, ConnectionEvents, connectionTarget } from './connection';
import type {
  AwaitRoundArgs,
  CommandMap,
  CountReport,
  DeliveryReport,
  OpenArgs,
  OpenReport,
  Reply,
  Request,
  RoundReport,
} from './protocol';
import { publish } from './publisher';

const MAX_SAMPLES = 5;

let connections: BenchConnection[] = [];
let latency = new Histogram();
let received = 0;
let lastReceivedAt = 0;
let dropped = 0;
let dropSamples: string[] = [];
let errorFrames = 0;
/** Per payload `t`: connections that got it, and when the last one did (only while recording rounds). */
let rounds: Map<number, { received: number; lastAt: number }> | undefined;

const events: ConnectionEvents = {
  notification(_conn, t) {
    const now = monoMs();
    received++;
    lastReceivedAt = now;
    latency.record(now - t);
    if (rounds) {
      const round = rounds.get(t) ?? { received: 0, lastAt: 0 };
      round.received++;
      round.lastAt = now;
      rounds.set(t, round);
    }
  },
  dropped(_conn, reason) {
    dropped++;
    if (dropSamples.length < MAX_SAMPLES) dropSamples.push(reason);
  },
  errorFrame() {
    errorFrames++;
  },
};

async function open(args: OpenArgs): Promise<OpenReport> {
  // Tokens are signed before the clock starts: connects/s measures the server, not jsonwebtoken.
  const pending = args.connections.map(
    ([user, replica]) =>
      new BenchConnection(
        user,
        { ...connectionTarget(args.client, user, replica), localAddress: args.localAddress },
        args.client,
        events,
      ),
  );
  const errorSamples: string[] = [];
  let opened = 0;
  let errors = 0;
  let next = 0;
  let lastOpenAt = 0;
  const startedAt = monoMs();
  const lane = async (): Promise<void> => {
    while (next < pending.length) {
      const conn = pending[next++];
      try {
        await conn.connect(args.topic, args.timeoutMs);
        connections.push(conn);
        opened++;
        lastOpenAt = monoMs();
      } catch (err) {
        errors++;
        if (errorSamples.length < MAX_SAMPLES)
          errorSamples.push(err instanceof Error ? err.message : String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, args.window) }, lane));
  return { opened, errors, errorSamples, startedAt, lastOpenAt };
}

function resetRecording(trackRounds: boolean): null {
  latency = new Histogram();
  received = 0;
  lastReceivedAt = 0;
  dropped = 0;
  dropSamples = [];
  errorFrames = 0;
  rounds = trackRounds ? new Map() : undefined;
  for (const conn of connections) conn.received = 0;
  return null;
}

async function awaitRound(args: AwaitRoundArgs): Promise<RoundReport> {
  const deadline = monoMs() + args.timeoutMs;
  const expected = connections.length;
  for (;;) {
    const round = rounds?.get(args.t);
    if ((round?.received ?? 0) >= expected || monoMs() > deadline) {
      return { received: round?.received ?? 0, expected, lastReceivedAt: round?.lastAt ?? 0 };
    }
    await sleep(5);
  }
}

function report(): DeliveryReport {
  const perUser: Record<string, number> = {};
  for (const conn of connections) perUser[conn.user] = (perUser[conn.user] ?? 0) + conn.received;
  return { received, perUser, latency: latency.toData(), lastReceivedAt, dropped, dropSamples, errorFrames };
}

function count(): CountReport {
  return { received, lastReceivedAt };
}

function close(): null {
  for (const conn of connections) conn.close();
  connections = [];
  return null;
}

async function handle(req: Request): Promise<CommandMap[Request['kind']]['result']> {
  switch (req.kind) {
    case 'open':
      return open(req.args);
    case 'record':
      return resetRecording(req.args.rounds);
    case 'count':
      return count();
    case 'awaitRound':
      return awaitRound(req.args);
    case 'report':
      return report();
    case 'publish':
      return publish(req.args);
    case 'close':
      return close();
  }
}

function reply(msg: Reply): void {
  if (process.connected) process.send?.(msg);
}

process.on('message', (req: Request) => {
  handle(req).then(
    (result) => reply({ id: req.id, ok: true, result }),
    (err: unknown) =>
      reply({ id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
