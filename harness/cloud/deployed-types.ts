/**
 * Test infrastructure: the shapes deployed-main.ts writes and deployed.ts reads (type-only imports, so the parent
 * process reads a result without loading the topology's modules).
 *
 * @module
 */
import type {
  ClusterReady,
  DeployedFailoverResult,
  DeployedQueryLogResult,
  DeployedScaleInResult,
  DeployedSnapshot,
} from './deployed-drills.ts';

/** The Trino release the topology's AMI image root carries. */
export const TOPOLOGY_TRINO_VERSION = '476';

/** Drills that run on the deployed topology, in the CLI's names. */
export const DEPLOYED_DRILLS = ['failover', 'scale-in', 'query-logs'] as const;
export type DeployedDrillName = (typeof DEPLOYED_DRILLS)[number];

/** One drill's outcome, by drill. */
export type DeployedDrillRecord =
  | { readonly drill: 'failover'; readonly result: DeployedFailoverResult; tookMs: number }
  | { readonly drill: 'scale-in'; readonly result: DeployedScaleInResult; tookMs: number }
  | { readonly drill: 'query-logs'; readonly result: DeployedQueryLogResult; tookMs: number };

/** What one run of the deployed topology wrote. */
export interface DeployedRunResult {
  readonly drills: DeployedDrillRecord[];
  readonly timings: {
    /** Account setup + infra stack + `osls deploy`, ms. */
    deployMs?: number;
    /** Start → the cluster serving through the ENI with every worker, ms. */
    clusterReadyMs?: number;
    totalMs?: number;
  };
  /** What waitForCluster found. */
  ready?: ClusterReady;
  /** The snapshot `npm run sandbox -- --deployed --once` prints (with `snapshot`). */
  snapshot?: DeployedSnapshot;
  /** The error that ended the run early (stack trace), if any. */
  error?: string;
}
