/**
 * Test infrastructure: `npm run drill -- …` (harness/cli.ts), rehearsals of the control plane's actions in the
 * sandbox, with measurements.
 * - `drill scale-in --sandbox [--json]`: in the sandbox (moto + a real secure Trino with two workers), scales the
 *   worker group in by one while a query runs and prints `{queriesFailed, lifecycleResult, heartbeats, drainSeconds, …}`.
 * - `drill failover --sandbox [--json]`: kills the active coordinator of an HA sandbox and prints
 *   `{detectedAfterMs, servingAfterMs, workersBackAfterMs, falseFailovers, enisAttached, …}`.
 * - `drill query-logs --sandbox [--json] [--queries N]`: runs N real queries with the listener pointed at the
 *   ingest path and prints `{queriesRun, documentsFound, missing, duplicates, lagP99Ms}`.
 * - `drill faults [--json] [--only <state|fault>…]`: the fault matrix of the failover and drain state machines on the
 *   fast path (./faults.ts: moto, the real ASL run locally with the real handlers, Trino doubles) and prints
 *   `{cases, invariantsHeld, violations:[{case, invariant, detail}], …}`; exits 1 on a violation.
 * - `drill <name> --deployed [--json] [--repeat N]`: the same drill on the deployed topology (harness/cloud/), N
 *   times in a row on one topology.
 *
 * @module
 */
import type { DeployedDrillRecord } from '../cloud/deployed-types.ts';
import type { HarnessLine } from '../cluster.ts';
import { runFailoverDrillInSandbox } from './failover.ts';
import { runFaultMatrix } from './faults.ts';
import { failoverTailSummary } from './figures.ts';
import { runQueryLogDrillInSandbox } from './query-logs.ts';
import { runScaleInDrillInSandbox } from './scale-in.ts';

/**
 * Runs a drill with stdout kept for the result alone (every log line, the handlers' included, goes to stderr), then
 * prints the summary as JSON (one line with `json`, indented otherwise).
 * @returns Exit code: 0 when `passed(result)`.
 */
async function printDrill<T>(
  json: boolean,
  start: string,
  run: (log: (line: string) => void) => Promise<T>,
  summarize: (result: T) => unknown,
  passed: (result: T) => boolean,
): Promise<number> {
  const stdout = process.stdout.write.bind(process.stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(start);
  const result = await run(log);
  const summary = summarize(result);
  stdout(json ? `${JSON.stringify(summary)}\n` : `${JSON.stringify(summary, null, 2)}\n`);
  return passed(result) ? 0 : 1;
}

/** Options of {@link runScaleInSandboxDrill}. */
export interface ScaleInDrillCliOptions {
  readonly json: boolean;
  readonly heartbeatTimeout: number;
  /** Release line of the sandbox cluster (default `newest`). */
  readonly line?: HarnessLine;
}

/**
 * Runs the scale-in drill in the sandbox and prints its figures.
 * @returns Exit code: 0 when no query failed and the action completed with CONTINUE.
 */
export function runScaleInSandboxDrill(options: ScaleInDrillCliOptions): Promise<number> {
  return printDrill(
    options.json,
    `drill: starting moto and a secure ${options.line ?? 'newest'}-line cluster with two workers…`,
    (log) =>
      runScaleInDrillInSandbox({
        clusterName: 'sandbox',
        heartbeatTimeoutSeconds: options.heartbeatTimeout,
        line: options.line ?? 'newest',
        log,
      }),
    (result) => ({
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
      line: result.line,
    }),
    (result) => result.queriesFailed === 0 && result.lifecycleResult === 'CONTINUE',
  );
}

/** Options of {@link runFailoverSandboxDrill}. */
export interface FailoverDrillCliOptions {
  readonly json: boolean;
  /** Detector probe interval, ms (the detection window is 3 × this). */
  readonly probeIntervalMs: number;
  /** Release line of the sandbox cluster (default `newest`). */
  readonly line?: HarnessLine;
}

/**
 * Runs the failover drill in the sandbox (moto + a secure Trino 476 with an active coordinator, a hot standby and a
 * worker behind the ENI proxy): kills the active coordinator's JVM, lets our detector and failover state machine
 * move the ENI, and prints `{detectedAfterMs, servingAfterMs, workersBackAfterMs, falseFailovers, enisAttached, …}`
 * and the timeline (ms after the kill).
 * @returns Exit code: 0 when it failed over once, without a false failover, and a query succeeded afterwards.
 */
export function runFailoverSandboxDrill(options: FailoverDrillCliOptions): Promise<number> {
  return printDrill(
    options.json,
    `drill: starting moto and a secure ${options.line ?? 'newest'}-line cluster (coordinator, hot standby, worker) behind the ENI proxy…`,
    (log) =>
      runFailoverDrillInSandbox({
        log,
        probeIntervalMs: options.probeIntervalMs,
        line: options.line ?? 'newest',
      }),
    (result) => result,
    (result) =>
      result.outcome === 'FAILED_OVER' &&
      result.falseFailovers === 0 &&
      result.enisAttached === 1 &&
      result.queryAfterFailover === 'OK',
  );
}

/**
 * Runs the query-log drill in the sandbox (moto, a real OpenSearch, a secure Trino 476 whose HTTP event listener
 * posts to our ingest function) and prints `{queriesRun, documentsFound, missing, duplicates, lagP99Ms, …}`.
 * @returns Exit code: 0 when every query was found exactly once.
 */
export function runQueryLogSandboxDrill(options: { readonly json: boolean; readonly queries: number }) {
  return printDrill(
    options.json,
    'drill: starting moto, OpenSearch and the query-log pipeline…',
    (log) => runQueryLogDrillInSandbox({ queries: options.queries, log }),
    (result) => result,
    (result) => result.missing === 0 && result.duplicates === 0,
  );
}

/**
 * Runs the fault matrix on the fast path and prints `{cases, invariantsHeld, violations, unreached, durationMs,
 * doubles}`.
 * @param options.only - Keep the cases of these Task states, fault classes, operations or scenarios.
 * @returns Exit code: 0 when no invariant was violated.
 */
export function runFaultMatrixDrill(options: { readonly json: boolean; readonly only?: readonly string[] }) {
  return printDrill(
    options.json,
    'drill: the fault matrix of the failover and drain state machines (moto, local Step Functions, Trino doubles)…',
    (log) => runFaultMatrix({ log, ...(options.only === undefined ? {} : { only: options.only }) }),
    (result) => result,
    (result) => result.violations.length === 0,
  );
}

/** Options of {@link runDeployedDrill}. */
export interface DeployedDrillCliOptions {
  readonly json: boolean;
  /** Workers the deployed worker group starts with. */
  readonly workers: number;
  /** Queries of the query-logs drill. */
  readonly queries?: number;
  /** Runs of the drill in a row on one topology (e.g. 10 failovers, each of the coordinator the last promoted). */
  readonly repeat?: number;
  /** Failover: hang right after the healthy watch (`ready`) or anywhere in the health loop's minute (`random`). */
  readonly hangAt?: 'ready' | 'random';
}

/**
 * Runs one drill on the deployed topology (harness/cloud/: the packaged stacks in the AWS emulator, the deployed
 * zips under the Lambda runtime interface emulator, instances booting the AMI's path in network namespaces; needs
 * root) and prints the drill's figures, as the `--sandbox` drills do.
 * @returns Exit code: 0 when the drill met its goal (the same criteria as the `--sandbox` drill).
 */
export async function runDeployedDrill(
  drill: 'failover' | 'scale-in' | 'query-logs',
  options: DeployedDrillCliOptions,
): Promise<number> {
  const { runDeployed } = await import('../cloud/deployed.ts');
  const repeat = options.repeat ?? 1;
  const passed = (record: DeployedDrillRecord): boolean => {
    switch (record.drill) {
      case 'failover':
        return (
          record.result.outcome === 'FAILED_OVER' &&
          record.result.falseFailovers === 0 &&
          record.result.enisAttached === 1 &&
          record.result.queryAfterFailover === 'OK' &&
          record.result.workersBackAfterMs !== null
        );
      case 'scale-in':
        return record.result.queriesFailed === 0 && record.result.lifecycleResult === 'CONTINUE';
      case 'query-logs':
        return record.result.missing === 0 && record.result.duplicates === 0;
    }
  };
  return printDrill(
    options.json,
    `drill: bringing up the deployed topology (stacks, zips, AMI boot path) for ${repeat} × the ${drill} drill…`,
    (log) =>
      runDeployed({
        drills: Array.from({ length: repeat }, () => drill),
        workers: options.workers,
        ...(options.queries === undefined ? {} : { queries: options.queries }),
        ...(options.hangAt === undefined ? {} : { hangAt: options.hangAt }),
        log,
      }),
    (result) => {
      const failovers = result.drills.flatMap((record) =>
        record.drill === 'failover' ? [record.result] : [],
      );
      if (repeat === 1 && options.hangAt !== 'random')
        return result.drills[0]?.result ?? { error: result.error ?? 'the drill did not run' };
      return {
        runs: result.drills.map((record) => record.result),
        passed: result.drills.filter(passed).length,
        requested: repeat,
        // Failover: {failedOver, falseFailovers, eniMovesPerRun, summary: {<figure>: {p50, p90, max}}} in ms.
        ...(drill === 'failover' ? failoverTailSummary(failovers) : {}),
        ...(result.error === undefined ? {} : { error: result.error }),
      };
    },
    (result) => result.error === undefined && result.drills.length === repeat && result.drills.every(passed),
  );
}
