/**
 * Test infrastructure: one entry point for every pinned release line, Trino (`newest`, `older`, harness/trino.ts)
 * and PrestoDB (`prestodb`, harness/prestodb.ts). The sandbox, the drills and the tests start clusters through
 * {@link startCluster} and hand the control plane {@link flavorOf} the cluster as `TRINO_FLAVOR`.
 *
 * @module
 */
import type { EngineFlavor } from '../lib/trino/flavor.ts';
import { ensurePrestoDb, type PrestoCluster, startPrestoCluster } from './prestodb.ts';
import {
  ensureTrino,
  startTrinoCluster,
  type TrinoCluster,
  type TrinoClusterOptions,
  type TrinoLine,
} from './trino.ts';

/** Every release line the harness runs. */
export const HARNESS_LINES = ['newest', 'older', 'prestodb'] as const;
/** One of {@link HARNESS_LINES}. */
export type HarnessLine = TrinoLine | 'prestodb';
/** A running cluster of any line. */
export type HarnessCluster = TrinoCluster | PrestoCluster;
/** Options of {@link startCluster}: {@link TrinoClusterOptions} with any line. */
export type HarnessClusterOptions = Omit<TrinoClusterOptions, 'line'> & { readonly line: HarnessLine };

/**
 * Starts a cluster of `options.line`.
 * @throws Error when a PrestoDB cluster is asked for the HTTP event listener (PrestoDB 0.287 has no `http`
 *   event listener plugin on Maven Central), or as {@link startTrinoCluster} / {@link startPrestoCluster}.
 */
export async function startCluster(options: HarnessClusterOptions): Promise<HarnessCluster> {
  if (options.line !== 'prestodb') return startTrinoCluster({ ...options, line: options.line });
  const { line: _line, eventListener, ...rest } = options;
  if (eventListener) throw new Error('the prestodb line has no HTTP event listener plugin');
  return startPrestoCluster(rest);
}

/**
 * Downloads, verifies and installs a line (CI pre-fetch).
 * @returns Its version, home and JAVA_HOME.
 */
export async function ensureLine(
  line: HarnessLine,
): Promise<{ readonly version: string; readonly home: string; readonly javaHome: string }> {
  return line === 'prestodb' ? ensurePrestoDb() : ensureTrino(line);
}

/** The engine a cluster runs (`TRINO_FLAVOR` of the functions that talk to it). */
export function flavorOf(cluster: HarnessCluster): EngineFlavor {
  return cluster.line === 'prestodb' ? 'presto' : 'trino';
}
