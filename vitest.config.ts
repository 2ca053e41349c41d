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
      // The modules without I/O: the decisions, the pure parts of lib/, and the drills' figures.
      include: [
        'functions/**/decide.ts',
        'functions/**/decide/*.ts',
        'lib/{config,errors,instance-url,failover-lock}.ts',
        'lib/aws/{observed,sdk-errors}.ts',
        'lib/trino/{schemas,units,sql-redact,query-events}.ts',
        'harness/drills/figures.ts',
      ],
      thresholds: {
        // Decision modules are the control logic: every branch is tested (conventions, rule 11).
        'functions/**/decide.ts': { 100: true, perFile: true },
        'functions/**/decide/*.ts': { 100: true, perFile: true },
        'harness/drills/figures.ts': { 100: true },
        // lib/'s contracts (errors, config, URLs, "could not read", SDK error translation): every branch.
        'lib/{config,errors,instance-url,failover-lock}.ts': { 100: true, perFile: true },
        'lib/aws/{observed,sdk-errors}.ts': { 100: true, perFile: true },
        // Trino's shapes and the query-log mapping: every line and function; the branches left are fallbacks
        // for indexes that are in range by construction (noUncheckedIndexedAccess's `?? ''`).
        'lib/trino/{schemas,units,sql-redact,query-events}.ts': {
          statements: 100,
          lines: 100,
          functions: 100,
          branches: 95,
          perFile: true,
        },
      },
    },
  },
});
