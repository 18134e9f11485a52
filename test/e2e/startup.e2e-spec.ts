import { runAppToExit, startApp, TEST_JWT_SECRET } from '../support/app';
import { freePort } from '../support/wait';

/** Start-up refuses invalid configuration with a message that names the variable. */
describe('start-up', () => {
  it.each([
    [{ PORT: 'eighty' }, 'PORT="eighty"'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL="localhost:6379"'],
    [{ HISTORY_SIZE: '0' }, 'HISTORY_SIZE="0"'],
  ])('stops on %j', async (env, named) => {
    const { code, output } = await runAppToExit({
      NODE_ENV: 'production',
      JWT_SECRET: TEST_JWT_SECRET,
      API_KEYS: 'k',
      ...env,
    });
    expect(code).toBe(1);
    expect(output).toContain(named);
  });

  it('stops in production without secrets, naming them', async () => {
    const { code, output } = await runAppToExit({ NODE_ENV: 'production' });
    expect(code).toBe(1);
    expect(output).toMatch(/JWT_SECRET is required/);
    expect(output).toMatch(/API_KEYS is required/);
  });

  it('stops when REDIS_URL is unreachable, naming it without its password', async () => {
    const port = await freePort();
    const { code, output } = await runAppToExit({
      NODE_ENV: 'production',
      JWT_SECRET: TEST_JWT_SECRET,
      API_KEYS: 'k',
      REDIS_URL: `redis://:hunter2@127.0.0.1:${port}`,
    });
    expect(code).toBe(1);
    expect(output).toContain(`REDIS_URL=redis://:***@127.0.0.1:${port}`);
    expect(output).not.toContain('hunter2');
  });

  it('prints generated credentials, a client token and a curl line in development', async () => {
    const app = await startApp({ NODE_ENV: 'development', JWT_SECRET: undefined, API_KEYS: undefined });
    try {
      const output = app.output();
      expect(output).toMatch(/JWT_SECRET \(generated\): \S{32}/);
      expect(output).toMatch(/API key \(generated\): +\S{32}/);
      expect(output).toContain(`ws://localhost:${app.port}/v1/ws?access_token=ey`);
      expect(output).toContain(`curl -sS -X POST http://localhost:${app.port}/v1/notifications`);
    } finally {
      await app.kill();
    }
  });
});
