/**
 * One Jest run covers every tier: unit specs next to the code (src/**), broker contract and e2e suites
 * that start their own redis-server and app processes (test/**), the client SDK (client/test/**), the
 * publisher SDK (publisher/test/**) and a smoke run of the benchmark harness (bench/smoke.spec.ts).
 * TypeScript goes through @swc/jest (see .swcrc); tsc builds the app that e2e tests spawn.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test', '<rootDir>/client', '<rootDir>/publisher', '<rootDir>/bench'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
  // jose (ESM only) is imported by specs that verify tokens: it goes through swc like our own code.
  transform: { '^.+\\.(t|j)s$': ['@swc/jest'] },
  transformIgnorePatterns: ['/node_modules/(?!(jose)/)'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  testTimeout: 30000,
  maxWorkers: 2,
};
