/**
 * What differs between the two engines the client speaks to, by name: Trino (`TRINO_FLAVOR=trino`, default)
 * and PrestoDB (`TRINO_FLAVOR=presto`). Everything else (paths, response shapes) is shared and parsed leniently
 * by ./schemas.ts; each PrestoDB difference found on a real 0.287 is listed here or in the schema it touches.
 *
 * Recorded PrestoDB 0.287 responses: test/fixtures/prestodb-0.287/.
 *
 * @module
 */

/** Which engine a node runs. */
export type EngineFlavor = 'trino' | 'presto';

/** The engine-specific names the control plane uses. */
export interface EngineNames {
  /**
   * The header naming the user (lower case, as Node sends it). PrestoDB answers a statement without
   * `X-Presto-User` with `400 User must be set` (recorded: statement-with-x-trino-user.json); Trino ignores
   * `X-Presto-User`. Sources: io.trino.client.ProtocolHeaders (`X-Trino-User`),
   * com.facebook.presto.client.PrestoHeaders#PRESTO_USER.
   */
  readonly userHeader: 'x-trino-user' | 'x-presto-user';
  /**
   * The coordinator's cluster memory manager MBean (attributes `ClusterMemoryBytes`,
   * `ClusterTotalMemoryReservation`, … in both). Trino registers it in the `trino.memory` domain
   * (io.trino.memory.ClusterMemoryManager); PrestoDB exports com.facebook.presto.memory.ClusterMemoryManager
   * `withGeneratedName()` (com.facebook.presto.server.CoordinatorModule), i.e. in its package's domain. Asking
   * PrestoDB for Trino's name answers 500 `javax.management.InstanceNotFoundException`.
   */
  readonly clusterMemoryMBean: string;
}

/** {@link EngineNames} of each flavor. */
export const ENGINE_NAMES: Readonly<Record<EngineFlavor, EngineNames>> = {
  trino: {
    userHeader: 'x-trino-user',
    clusterMemoryMBean: 'trino.memory:name=ClusterMemoryManager',
  },
  presto: {
    userHeader: 'x-presto-user',
    clusterMemoryMBean: 'com.facebook.presto.memory:name=ClusterMemoryManager',
  },
};
