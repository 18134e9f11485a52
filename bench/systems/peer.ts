import { join } from 'node:path';
import { benchDist } from '../support/paths';
import { engineEnv, startReplicated, SystemAdapter } from './system';

/** Socket.IO + classic Redis adapter (bench/peer/server.ts); clients speak Socket.IO over a WebSocket. */
export const peer: SystemAdapter = {
  name: 'peer',
  engines: ['redis', 'cluster'],
  unavailable: () => undefined,
  start: (replicas, label, engineKind, wrap) =>
    startReplicated(
      {
        name: 'peer',
        command: process.execPath,
        args: [join(benchDist, 'peer', 'server.js')],
        ipc: true,
        env: (port, engine, { jwtSecret, apiKey }) => ({
          PORT: String(port),
          ...engineEnv(engine),
          JWT_SECRET: jwtSecret,
          API_KEY: apiKey,
        }),
        client: (ports, { jwtSecret }) => ({
          dialect: 'socketio',
          auth: 'jwt-connect',
          jwtSecret,
          endpoints: ports.map((p) => `ws://127.0.0.1:${p}/socket.io/?EIO=4&transport=websocket`),
        }),
        startTimeoutMs: 15_000,
      },
      replicas,
      label,
      engineKind,
      wrap,
    ),
};
