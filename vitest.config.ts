import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Process-heavy suites on a 2-core machine: a few files at a time keeps timing bounds honest.
    maxWorkers: 2,
    setupFiles: ['test/setup.ts'],
  },
});
