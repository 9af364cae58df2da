import { defineConfig } from 'vitest/config';

// End-to-end tests against a real kube-apiserver/kube-scheduler.
// Build the binaries first: bash test/e2e/controlplane/build.sh
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
