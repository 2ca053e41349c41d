/**
 * Test infrastructure: downloads, verifies and runs real Trino clusters on loopback for tests, the sandbox and
 * the bench. One import for the harness's Trino, split by concern under harness/trino/:
 * - install.ts: the pinned release lines (harness/trino-versions.json) from Maven Central, checksum-verified and
 *   cached outside the repository; JDK lookup;
 * - tls.ts: a secure cluster's CA and coordinator certificate;
 * - config.ts: each node's etc/ (properties, access rules, password file lines), rendered without I/O;
 * - process.ts: the JVMs, never outliving this process;
 * - cluster.ts: a coordinator, hot standbys and workers started and awaited ({@link startTrinoCluster});
 * - queries.ts: SQL through the product's client (lib/trino/client.ts) for tests and drills.
 *
 * Secure clusters run as production does: HTTPS with a CA made for the cluster, password authentication, an
 * internal shared secret, and file-based access control on every node granting the control plane's user
 * (`sentinel`) `system_information` read and write, and nobody else write.
 *
 * @module
 */
export { startTrinoCluster, type TrinoCluster, type TrinoClusterOptions } from './trino/cluster.ts';
export {
  cacheDir,
  ensureTrino,
  fetchArtifact,
  findJava,
  loadVersions,
  type TrinoFeatures,
  type TrinoInstall,
  type TrinoLine,
} from './trino/install.ts';
export { type TrinoNode, watchdog } from './trino/process.ts';
export {
  LONG_QUERY,
  type QueryOptions,
  type QueryOutcome,
  type RunningQuery,
  runQuery,
  startQuery,
} from './trino/queries.ts';
