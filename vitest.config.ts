import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    // The leak guard: each file's handles and child processes (leak-setup.ts), and the run's
    // databases, Redis keys and processes at the end (global-setup.ts).
    setupFiles: ['test/helpers/leak-setup.ts'],
    // Integration tests talk to real PostgreSQL and Redis, and e2e tests start processes.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: more parallel files only make the process tests slower.
    maxWorkers: 2,
  },
});
