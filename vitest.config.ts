import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Backstops only, far above any test: every wait inside a test has its own deadline derived from
    // the configured intervals of what it waits on (test/helpers/deadlines.ts) and fails first,
    // naming what it waited for. These catch only a wait that has none, without failing a slow but
    // healthy run on a loaded machine.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    // Tests spawn daemons and SQLite writers; two cores, so keep parallelism modest.
    maxWorkers: 2,
    env: { METADATA_SERVER_DETECTION: 'none', NO_COLOR: '1' },
  },
});
