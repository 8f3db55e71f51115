import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Separate processes: each test file gets its own TF.js engine and wasm instance.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    setupFiles: ['test/setup.ts'],
  },
});
