import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup/loopback-guard.ts'],
    // No test may reach the public DHT routers: download and seed run a DHT node only with an
    // explicit (loopback) --bootstrap under this variable, which every child process inherits.
    env: { BTKIT_NO_PUBLIC_DHT: '1' },
    // Interop suites start real peers; give them room, but every test bounds its own waits.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: running every file at once only makes interop timings noisier.
    maxWorkers: 2,
  },
});
