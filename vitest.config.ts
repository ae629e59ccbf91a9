import { join } from 'node:path';
import { defineConfig } from 'vitest/config';
import { IMAGE_NODE_FLAGS } from './scripts/build.ts';
import { DIST_TEST_DIR } from './test/support/build-dist.ts';

/** e2e files that also run against the production build (dist/dyeline.mjs): the `dist` project. */
const DIST_E2E = [
  'test/e2e/demo.test.ts',
  'test/e2e/agent-mesh.test.ts',
  // etcd3's protos and the nacos client are the parts the build carries differently (scripts/build.ts).
  'test/e2e/daemon-etcd.test.ts',
  'test/e2e/daemon-nacos.test.ts',
  // The image runs the webhook too.
  'test/e2e/webhook.test.ts',
  'test/e2e/dist-entry.test.ts',
];

export default defineConfig({
  test: {
    // e2e tests start real processes (etcd, daemons, agents); give them room but keep them bounded.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: run at most two files at once so e2e timing stays honest.
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      // Every test, with dyeline processes run from the TypeScript sources (bin/dyeline.js).
      { extends: true, test: { name: 'src', include: ['test/**/*.test.ts'], exclude: ['test/e2e/dist-entry.test.ts'] } },
      // The same e2e files with dyeline processes run from the production build as the image runs
      // it (its node flags), built once first outside the checkout (test/support/build-dist.ts);
      // after the `src` files, so that no timing-sensitive e2e file shares the two cores with them.
      {
        extends: true,
        test: {
          name: 'dist',
          include: DIST_E2E,
          env: { DYELINE_TEST_ENTRY: join(DIST_TEST_DIR, 'dyeline.mjs'), DYELINE_TEST_NODE_FLAGS: IMAGE_NODE_FLAGS.join(' ') },
          globalSetup: ['test/support/build-dist.ts'],
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
