/**
 * The Lambda entry points trino-sentinel ships, by function name (as in serverless.yml). The bench and the
 * build script read this list; add a function here when serverless.yml gains one.
 */
export const FUNCTIONS: Readonly<Record<string, string>> = {
  clusterMetrics: 'functions/cluster-metrics/handler.ts',
};
