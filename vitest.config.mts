import { defineConfig } from 'vitest/config';

// Native addons must not be shared across worker threads that vitest recycles: run each test file in
// its own forked process.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
