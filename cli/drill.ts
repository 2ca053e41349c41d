/**
 * `trino-sentinel drill …`: rehearsals of the control plane's actions with measurements.
 * - `drill scale-in --sandbox [--json]`: in the sandbox (moto + a real secure Trino with two workers), scales the
 *   worker group in by one while a query runs and prints `{queriesFailed, lifecycleResult, heartbeats, drainSeconds, …}`.
 * - `drill failover --sandbox [--json]`: kills the active coordinator of an HA sandbox and prints
 *   `{detectedAfterMs, servingAfterMs, workersBackAfterMs, falseFailovers, enisAttached, …}`.
 * - `drill query-logs --sandbox [--json] [--queries N]`: runs N real queries with the listener pointed at the
 *   ingest path and prints `{queriesRun, documentsFound, missing, duplicates, lagP99Ms}`.
 *
 * @module
 */
import { runFailoverDrillInSandbox } from '../scripts/harness/drills/failover.ts';
import { runQueryLogDrillInSandbox } from '../scripts/harness/drills/query-logs.ts';
import { runScaleInDrillInSandbox } from '../scripts/harness/drills/scale-in.ts';

/** Options of {@link runScaleInSandboxDrill}. */
export interface ScaleInDrillCliOptions {
  readonly json: boolean;
  readonly heartbeatTimeout: number;
}

/**
 * Runs the scale-in drill in the sandbox and prints its figures.
 * @returns Exit code: 0 when no query failed and the action completed with CONTINUE.
 */
export async function runScaleInSandboxDrill(options: ScaleInDrillCliOptions): Promise<number> {
  const stdout = process.stdout.write.bind(process.stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log('drill: starting moto and a secure Trino cluster with two workers…');
  const result = await runScaleInDrillInSandbox({
    clusterName: 'sandbox',
    heartbeatTimeoutSeconds: options.heartbeatTimeout,
    log,
  });
  const summary = {
    queriesFailed: result.queriesFailed,
    lifecycleResult: result.lifecycleResult,
    heartbeats: result.heartbeats,
    drainSeconds: result.drainSeconds,
    outcome: result.outcome,
    instanceId: result.instanceId,
    workerExited: result.workerExited,
    lastTaskToCompleteMs: result.lastTaskToCompleteMs,
    maxHeartbeatGapSeconds: result.maxHeartbeatGapSeconds,
    heartbeatTimeoutSeconds: options.heartbeatTimeout,
    stateTransitions: result.stateTransitions,
    duplicateStartIgnored: result.duplicateStartIgnored,
    trinoVersion: result.trinoVersion,
  };
  stdout(options.json ? `${JSON.stringify(summary)}\n` : `${JSON.stringify(summary, null, 2)}\n`);
  return result.queriesFailed === 0 && result.lifecycleResult === 'CONTINUE' ? 0 : 1;
}

/** Options of {@link runFailoverSandboxDrill}. */
export interface FailoverDrillCliOptions {
  readonly json: boolean;
  /** Detector probe interval, ms (the detection window is 3 × this). */
  readonly probeIntervalMs: number;
}

/**
 * Runs the failover drill in the sandbox (moto + a secure Trino 476 with an active coordinator, a hot standby and a
 * worker behind the ENI proxy): kills the active coordinator's JVM, lets our detector and failover state machine
 * move the ENI, and prints `{detectedAfterMs, servingAfterMs, workersBackAfterMs, falseFailovers, enisAttached, …}`
 * and the timeline (ms after the kill).
 * @returns Exit code: 0 when it failed over once, without a false failover, and a query succeeded afterwards.
 */
export async function runFailoverSandboxDrill(options: FailoverDrillCliOptions): Promise<number> {
  const stdout = process.stdout.write.bind(process.stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(
    'drill: starting moto and a secure Trino cluster (coordinator, hot standby, worker) behind the ENI proxy…',
  );
  const result = await runFailoverDrillInSandbox({ log, probeIntervalMs: options.probeIntervalMs });
  stdout(options.json ? `${JSON.stringify(result)}\n` : `${JSON.stringify(result, null, 2)}\n`);
  return result.outcome === 'FAILED_OVER' &&
    result.falseFailovers === 0 &&
    result.enisAttached === 1 &&
    result.queryAfterFailover === 'OK'
    ? 0
    : 1;
}

/**
 * Runs the query-log drill in the sandbox (moto, a real OpenSearch, a secure Trino 476 whose HTTP event listener
 * posts to our ingest function) and prints `{queriesRun, documentsFound, missing, duplicates, lagP99Ms, …}`.
 * @returns Exit code: 0 when every query was found exactly once.
 */
export async function runQueryLogSandboxDrill(options: { readonly json: boolean; readonly queries: number }) {
  const stdout = process.stdout.write.bind(process.stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log('drill: starting moto, OpenSearch and the query-log pipeline…');
  const result = await runQueryLogDrillInSandbox({ queries: options.queries, log });
  stdout(options.json ? `${JSON.stringify(result)}\n` : `${JSON.stringify(result, null, 2)}\n`);
  return result.missing === 0 && result.duplicates === 0 ? 0 : 1;
}
