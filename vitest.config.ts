import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // The local cloud's tests start their own components (no shared Trino): project `cloud` below.
          exclude: ['test/integration/cloud-*.test.ts'],
          environment: 'node',
          globalSetup: ['test/helpers/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'cloud',
          include: ['test/integration/cloud-*.test.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
    coverage: {
      provider: 'v8',
      include: ['functions/**/decide.ts'],
      // Decision modules are the control logic: every branch is tested (conventions, rule 11).
      thresholds: { branches: 100, functions: 100, lines: 100, statements: 100 },
    },
  },
});
