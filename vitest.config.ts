import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores here: at most two test files at once keeps the timing-sensitive cluster tests honest.
    maxWorkers: 2,
  },
});
