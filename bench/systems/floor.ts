import { join } from 'node:path';
import { benchDist } from '../support/paths';
import { startReplicated, SystemAdapter } from './system';

/** Bare ws + ioredis relay (bench/floor/server.ts); Herald's frame format, no auth. */
export const floor: SystemAdapter = {
  name: 'floor',
  engines: ['redis'],
  unavailable: () => undefined,
  start: (replicas, label, _engineKind, wrap) =>
    startReplicated(
      {
        name: 'floor',
        command: process.execPath,
        args: [join(benchDist, 'floor', 'server.js')],
        ipc: true,
        env: (port, engine) => ({ PORT: String(port), REDIS_URL: engine.address }),
        client: (ports, { jwtSecret }) => ({
          dialect: 'herald',
          auth: 'user-query',
          jwtSecret,
          endpoints: ports.map((p) => `ws://127.0.0.1:${p}/v1/ws`),
        }),
        startTimeoutMs: 15_000,
      },
      replicas,
      label,
      'redis',
      wrap,
    ),
};
