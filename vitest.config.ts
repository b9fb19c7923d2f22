import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Generous: tests that spawn the bin several times take 20-30 s when eight workloads share two cores.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Process-heavy suites on a 2-core machine: a few files at a time keeps timing bounds honest.
    maxWorkers: 2,
    setupFiles: ['test/setup.ts'],
  },
});
