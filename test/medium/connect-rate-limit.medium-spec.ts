import { aToken, connect, refusedUpgrade, TestClient } from '../support/client';
import { startInProcessApp } from '../support/in-process';

describe('connect rate limit', () => {
  it('answers 503 with Retry-After before the upgrade when new connections exceed CONNECT_RATE_LIMIT', async () => {
    const app = await startInProcessApp({ env: { CONNECT_RATE_LIMIT: '3' } });
    const opened: TestClient[] = [];
    try {
      const attempts = await Promise.all(
        Array.from({ length: 8 }, () =>
          connect(app, aToken()).then(
            (client) => (opened.push(client), 101),
            () => refusedUpgrade(`${app.wsUrl}?access_token=${aToken()}`).then((r) => r.status),
          ),
        ),
      );
      expect(opened.length).toBeGreaterThanOrEqual(3);
      expect(opened.length).toBeLessThan(8);
      const refusal = await refusedUpgrade(`${app.wsUrl}?access_token=${aToken()}`);
      expect(refusal.status).toBe(503);
      expect(refusal.headers['retry-after']).toBe('1');
      expect(attempts).toContain(503);
    } finally {
      await Promise.all(opened.map((client) => client.close()));
      await app.close();
    }
  });
});
