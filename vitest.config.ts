import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests spawn daemons and SQLite writers; two cores, so keep parallelism modest.
    maxWorkers: 2,
    env: { METADATA_SERVER_DETECTION: 'none', NO_COLOR: '1' },
  },
});
