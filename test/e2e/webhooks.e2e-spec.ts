import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { verifyWebhook } from '../../publisher/src/webhooks';
import { runAppToExit, startApp, TEST_JWT_SECRET, TestApp } from '../support/app';
import { aUserId } from '../support/client';
import { startRedis, TestRedis } from '../support/redis';
import { ReceivedWebhook, startWebhookReceiver, WebhookReceiver } from '../support/webhook-receiver';
import { waitUntil } from '../support/wait';

/**
 * Webhooks across processes: an event pending in Redis outlives the replica that held it. The
 * stand-in replica (test/support/webhook-replica.ts: the service's own outbox, dispatcher, sender
 * and Redis queue) emits an event and is SIGKILLed mid-attempt; the built app (dist/main.js), a
 * replica started afterwards on the same Redis, sends it.
 */
const SECRET = 'whsec-e2e-0123456789ab';
const REPLICA = join(__dirname, '..', 'support', 'webhook-replica.ts');
/** The stand-in's lease: how long its dead claim blocks the event. */
const LEASE_MS = 2000;

function startStandInReplica(redis: TestRedis, url: string, userId: string) {
  const child: ChildProcess = spawn(
    process.execPath,
    ['-r', '@swc-node/register', REPLICA, redis.url, url, SECRET, userId, String(LEASE_MS)],
    { cwd: join(__dirname, '..', '..'), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    output: () => output,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

describe('webhooks across replicas (processes)', () => {
  let redis: TestRedis;
  let receiver: WebhookReceiver;
  let app: TestApp | undefined;
  let standIn: ReturnType<typeof startStandInReplica> | undefined;

  beforeAll(async () => {
    redis = await startRedis();
    // The first attempt of every event hangs: its sender is mid-request when it dies.
    receiver = await startWebhookReceiver((_request, attempt) => (attempt === 1 ? 'hang' : 204));
  });
  afterAll(async () => {
    await standIn?.kill();
    await app?.kill();
    await receiver?.close();
    await redis?.stop();
  });

  it('a replica SIGKILLed mid-attempt leaves the event in Redis; another replica sends it, same id and body', async () => {
    const user = aUserId();
    const requestsForUser = (): ReceivedWebhook[] =>
      receiver.received.filter((request) => (request.event.data as { userId?: string }).userId === user);
    // A token in the URL, as some endpoints have: it must not reach any log line.
    const url = `${receiver.url}?token=url-t0ken-${user}`;

    standIn = startStandInReplica(redis, url, user);
    const [first] = await waitUntil(
      () => requestsForUser().length > 0 && requestsForUser(),
      15_000,
      `the stand-in replica's first attempt (output: ${standIn.output()})`,
    );
    await standIn.kill();

    app = await startApp({ REDIS_URL: redis.url, WEBHOOK_URL: url, WEBHOOK_SECRET: SECRET });
    const attempts = await waitUntil(
      () => requestsForUser().length >= 2 && requestsForUser(),
      LEASE_MS + 10_000,
      'the event sent by the other replica',
    );
    expect(attempts[1].event.id).toBe(first.event.id);
    expect(attempts[1].rawBody).toBe(first.rawBody);
    expect(attempts[1].headers['herald-webhook-attempt']).toBe('2');
    expect(verifyWebhook(attempts[1].rawBody, attempts[1].headers['herald-signature'], SECRET)).toEqual({
      id: first.event.id,
      type: 'notification.delivered',
      createdAt: first.event.createdAt,
      data: { notificationId: `n-${user}`, userId: user },
    });
    expect(app.output()).not.toContain(SECRET);
    expect(app.output()).not.toContain('url-t0ken');
  });
});

describe('webhook start-up', () => {
  const production = { NODE_ENV: 'production', JWT_SECRET: TEST_JWT_SECRET, API_KEYS: 'k' };

  it('stops when WEBHOOK_URL comes without WEBHOOK_SECRET, naming it and printing neither value', async () => {
    const { code, output } = await runAppToExit({
      ...production,
      WEBHOOK_URL: 'https://hooks.example/t0ken-x',
    });
    expect(code).toBe(1);
    expect(output).toContain('WEBHOOK_SECRET is required with WEBHOOK_URL');
    expect(output).not.toContain('t0ken-x');
  });

  it('stops on a WEBHOOK_SECRET shorter than 16 characters, without printing it', async () => {
    const { code, output } = await runAppToExit({
      ...production,
      WEBHOOK_URL: 'https://hooks.example/h',
      WEBHOOK_SECRET: 'sh0rt-s3cret',
    });
    expect(code).toBe(1);
    expect(output).toContain('WEBHOOK_SECRET=<hidden>');
    expect(output).not.toContain('sh0rt-s3cret');
  });
});
