import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // e2e tests start real processes (etcd, daemons, agents); give them room but keep them bounded.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: run at most two files at once so e2e timing stays honest.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
