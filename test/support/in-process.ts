import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from '../../src/app.factory';
import { loadConfig } from '../../src/config/app-config';
import { OTHER_API_KEY, TEST_API_KEY, TEST_JWT_SECRET, TestApp } from './app';
import { TestRedis } from './redis';

/**
 * The medium tier's app: the whole Nest application (every module, the real Fastify server and
 * WebSocket adapter on a real port) in the Jest process, reached only through HTTP and WebSocket frames
 * like the spawned one. Real: the HTTP and WebSocket stack and, with `redis`, a real redis-server (the
 * Redis engine); without it, the embedded memory engine. Not here: process start-up and exit,
 * signals, stdout, more than one replica — those stay in the e2e tier (startApp).
 */
export interface InProcessApp extends Pick<TestApp, 'port' | 'url' | 'wsUrl'> {
  /** The engine the app runs on. */
  engine: 'redis' | 'memory';
  app: NestFastifyApplication;
  /** Closes the app (its WebSocket server, engine connections and timers); safe to call twice. */
  close(): Promise<void>;
}

export interface InProcessOptions {
  /** Runs the Redis engine on this server; absent → the memory engine. */
  redis?: TestRedis;
  /** More environment variables of the contract (PORT and REDIS_URL are set here). */
  env?: Record<string, string | undefined>;
}

/** Boots the app in-process on 127.0.0.1 and a port the OS picks, with the e2e tier's test secrets. */
export async function startInProcessApp({ redis, env = {} }: InProcessOptions = {}): Promise<InProcessApp> {
  const config = loadConfig({
    NODE_ENV: 'production',
    JWT_SECRET: TEST_JWT_SECRET,
    API_KEYS: `test:${TEST_API_KEY},other:${OTHER_API_KEY}`,
    // The Jest output is the test's: the app's log lines would bury it.
    LOG_LEVEL: 'silent',
    ...env,
    PORT: '0',
    REDIS_URL: redis?.url,
  });
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address();
  if (address === null || typeof address === 'string') {
    await app.close();
    throw new Error(`the in-process app has no TCP address (${String(address)})`);
  }
  const { port } = address;
  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    engine: redis ? 'redis' : 'memory',
    app,
    close: () => (closing ??= app.close()),
  };
}
