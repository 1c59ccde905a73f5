import { defineConfig } from 'vitest/config';

// End-to-end: real Chromium (playwright-core, the system's browser) against the running service.
// One file, one browser, tests in order; scripts/test-web.sh prepares the service.
export default defineConfig({
  test: {
    environment: 'node',
    include: ['e2e/**/*.e2e.ts'],
    fileParallelism: false,
    testTimeout: 90_000,
    hookTimeout: 90_000,
  },
});
