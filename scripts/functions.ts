/**
 * The Lambda entry points trino-sentinel ships, by function name (as in serverless.yml), and the esbuild options
 * every bundle uses (the same as serverless.yml's `custom.esbuild`). Read by `npm run build` and `npm run bench`;
 * add a function here when serverless.yml gains one.
 *
 * @module
 */
import type { BuildOptions } from 'esbuild';

/** Function name → entry file (relative to the repository root). */
export const FUNCTIONS: Readonly<Record<string, string>> = {
  clusterMetrics: 'functions/cluster-metrics/handler.ts',
  startDrain: 'functions/worker-drain/start.ts',
  /** One bundle serves beginDrain, checkDrain and completeDrain (the drain state machine's tasks). */
  drainTasks: 'functions/worker-drain/tasks.ts',
  spotInterruption: 'functions/worker-drain/spot.ts',
  terminationPolicy: 'functions/worker-drain/termination-policy.ts',
  coordinatorHealth: 'functions/coordinator-health/handler.ts',
  /** One function runs every Task state of the failover state machine. */
  coordinatorFailover: 'functions/coordinator-failover/handler.ts',
  nodeHealth: 'functions/node-health/handler.ts',
  queryLogIngest: 'functions/query-log-ingest/handler.ts',
  queryLogShip: 'functions/query-log-ship/handler.ts',
  queryLogPoll: 'functions/query-log-poll/handler.ts',
};

/**
 * esbuild options of every Lambda bundle: ESM, minified, Node 22, `@aws-sdk/*` external (the Lambda runtime
 * ships AWS SDK v3), with a `require` shim for CommonJS dependencies.
 */
export const BUNDLE_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  minify: true,
  // Minification renames classes; keep their names for stack traces (the error contract's names are literals).
  keepNames: true,
  sourcemap: false,
  external: ['@aws-sdk/*'],
  banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
  metafile: true,
  logLevel: 'error',
};
