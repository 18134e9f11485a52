/**
 * One Jest run covers every tier, fastest first:
 * - unit: specs next to the code (src/**) and the SDKs' (client/test/**, publisher/test/**), no I/O
 *   beyond loopback fakes;
 * - integration: contract suites for each memory/Redis twin (test/integration/*.contract.spec.ts),
 *   the Redis twin on a redis-server of the suite's own;
 * - medium: the whole app booted in the Jest process (test/medium/*.medium-spec.ts, startInProcessApp),
 *   reached through HTTP, WebSocket and SSE only, on the memory engine or a real Redis;
 * - e2e: the built app (dist/main.js) as real processes — replicas, crashes, signals, start-up, logs,
 *   nginx, the SDKs, the demo page in Chromium and Web Push in Firefox ESR (test/e2e, test/chaos,
 *   test/browser);
 * - the benchmark harness's smoke run (bench/smoke.spec.ts).
 * TypeScript goes through @swc/jest (see .swcrc); tsc builds the app that e2e tests spawn.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test', '<rootDir>/client', '<rootDir>/publisher', '<rootDir>/bench'],
  testMatch: ['**/*.spec.ts', '**/*.medium-spec.ts', '**/*.e2e-spec.ts'],
  transform: { '^.+\\.(t|j)s$': ['@swc/jest'] },
  // ESM-only packages that code under test requires, compiled to CommonJS by swc: jose (token specs),
  // content-disposition (the in-process app serves /docs through @fastify/static, which requires it).
  transformIgnorePatterns: ['/node_modules/(?!(jose|content-disposition)/)'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  testTimeout: 30000,
  maxWorkers: 2,
};
