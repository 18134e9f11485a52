import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { benchDist, repoRoot } from '../support/paths';
import { engineEnv, startReplicated, SystemAdapter } from './system';

/**
 * Herald's publish and delivery work on Fastify without Nest (bench/bare-herald/server.ts, running
 * Herald's built modules); clients connect as the floor's do (user id in the URL). Needs dist/.
 */
export const bare: SystemAdapter = {
  name: 'bare',
  engines: ['redis'],
  unavailable: () =>
    existsSync(join(repoRoot, 'dist', 'main.js')) ? undefined : 'dist/ not built (npm run build)',
  start: (replicas, label, _engineKind, wrap) =>
    startReplicated(
      {
        name: 'bare',
        command: process.execPath,
        args: [join(benchDist, 'bare-herald', 'server.js')],
        ipc: true,
        env: (port, engine, { jwtSecret, apiKey }) => ({
          PORT: String(port),
          ...engineEnv(engine),
          JWT_SECRET: jwtSecret,
          API_KEYS: `bench:${apiKey}`,
          LOG_LEVEL: 'warn',
        }),
        client: (ports, { jwtSecret }) => ({
          dialect: 'herald',
          auth: 'user-query',
          jwtSecret,
          endpoints: ports.map((p) => `ws://127.0.0.1:${p}/v1/ws`),
        }),
        startTimeoutMs: 30_000,
      },
      replicas,
      label,
      'redis',
      wrap,
    ),
};
