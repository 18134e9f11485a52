import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/paths';
import { engineEnv, startReplicated, SystemAdapter } from './system';

const main = join(repoRoot, 'dist', 'main.js');

/**
 * Herald as built (`npm run build` → dist/main.js), in production mode. MAX_PAYLOAD_BYTES is raised
 * so that a 1,000-item batch (~130 KB) fits; everything else is Herald's default.
 */
export const herald: SystemAdapter = {
  name: 'herald',
  engines: ['redis', 'cluster'],
  unavailable: () => (existsSync(main) ? undefined : 'dist/main.js not built (npm run build)'),
  start: (replicas, label, engineKind, wrap) =>
    startReplicated(
      {
        name: 'herald',
        command: process.execPath,
        args: [main],
        ipc: false,
        env: (port, engine, { jwtSecret, apiKey }) => ({
          PORT: String(port),
          ...engineEnv(engine),
          JWT_SECRET: jwtSecret,
          API_KEYS: `bench:${apiKey}`,
          LOG_LEVEL: 'warn',
          MAX_PAYLOAD_BYTES: String(4 * 1024 * 1024),
          SHUTDOWN_TIMEOUT_MS: '3000',
        }),
        client: (ports, { jwtSecret }) => ({
          dialect: 'herald',
          auth: 'jwt-query',
          jwtSecret,
          endpoints: ports.map((p) => `ws://127.0.0.1:${p}/v1/ws`),
        }),
        startTimeoutMs: 30_000,
      },
      replicas,
      label,
      engineKind,
      wrap,
    ),
};
