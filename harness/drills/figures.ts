/**
 * Test infrastructure: the arithmetic behind the figures the drills (`npm run drill`) and the bench (`npm run bench`)
 * print, pure (numbers in, numbers out; no clock, no I/O) so each formula is unit-tested on its own.
 *
 * @module
 */

/**
 * The median (mean of the two middle values for an even count).
 * @returns null for no values.
 * @example
 * median([3, 1, 2]); // 2
 * median([4, 1, 3, 2]); // 2.5
 */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  // The middle value, or the two middle values for an even count.
  const middle = sorted.slice(Math.floor((sorted.length - 1) / 2), Math.floor(sorted.length / 2) + 1);
  return middle.reduce((sum, value) => sum + value, 0) / middle.length;
}

/**
 * The nearest-rank percentile: the smallest value with at least `p` % of the values at or below it.
 * @param p - Percent, 0 < p ≤ 100.
 * @returns null for no values (and for p ≤ 0).
 * @example
 * percentile([10, 20, 30, 40], 50); // 20
 */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? null;
}

/** Scale-in drill: times of the drain, ms since the epoch. */
export interface DrainTimes {
  /** When the lifecycle action started (the event's `time`). */
  readonly lifecycleStartMs: number;
  /** When the worker first reported DRAINED (or stopped answering): its last task done; null if never seen. */
  readonly drainedAtMs: number | null;
  /** Each RecordLifecycleActionHeartbeat and the CompleteLifecycleAction, in order. */
  readonly lifecycleCalls: readonly { readonly command: string; readonly atMs: number }[];
}

/** Scale-in drill figures derived from {@link DrainTimes}. */
export interface DrainTimeFigures {
  /** ms from the worker's last task to CompleteLifecycleAction; null when either was not seen. */
  readonly lastTaskToCompleteMs: number | null;
  /** Largest gap between the lifecycle action's start, each heartbeat and the completion, in seconds. */
  readonly maxHeartbeatGapSeconds: number;
}

/**
 * What the scale-in drill measures from the drain's times.
 * @example
 * drainTimeFigures({ lifecycleStartMs: 0, drainedAtMs: 40_000,
 *   lifecycleCalls: [{ command: 'RecordLifecycleActionHeartbeat', atMs: 20_000 },
 *                    { command: 'CompleteLifecycleAction', atMs: 45_000 }] });
 * // { lastTaskToCompleteMs: 5000, maxHeartbeatGapSeconds: 25 }
 */
export function drainTimeFigures(times: DrainTimes): DrainTimeFigures {
  const complete = times.lifecycleCalls.find((c) => c.command === 'CompleteLifecycleAction');
  let previousMs = times.lifecycleStartMs;
  let maxGapSeconds = 0;
  for (const call of times.lifecycleCalls) {
    maxGapSeconds = Math.max(maxGapSeconds, (call.atMs - previousMs) / 1000);
    previousMs = call.atMs;
  }
  return {
    lastTaskToCompleteMs: times.drainedAtMs !== null && complete ? complete.atMs - times.drainedAtMs : null,
    maxHeartbeatGapSeconds: maxGapSeconds,
  };
}

/** Bench figures of the drain's state transitions. */
export interface DrainTransitionFigures {
  /** Transitions one check costs (WaitForDrain + CheckDrain + IsDrainDone), measured in the drill. */
  readonly transitionsPerCheck: number;
  /** At the production default poll of 30 s: transitionsPerCheck × 120 per hour, rounded. */
  readonly stateTransitionsPerDrainedWorkerHour: number;
  /** The goal for last task → CompleteLifecycleAction: poll interval + 5 s, in ms. */
  readonly goalMs: number;
}

/**
 * The drain's Step Functions cost from one drill: states entered are BeginDrain, then (WaitForDrain, CheckDrain,
 * IsDrainDone) per check, then CompleteLifecycleAction.
 * @param stateTransitions - States the drill's execution entered.
 * @param pollSeconds - DRAIN_POLL_SECONDS of the drill.
 */
export function drainTransitionFigures(
  stateTransitions: number,
  pollSeconds: number,
): DrainTransitionFigures {
  const checks = Math.max(1, (stateTransitions - 2) / 3);
  const transitionsPerCheck = Math.round(((stateTransitions - 2) / checks) * 100) / 100;
  return {
    transitionsPerCheck,
    stateTransitionsPerDrainedWorkerHour: Math.round(transitionsPerCheck * (3600 / 30)),
    goalMs: (pollSeconds + 5) * 1000,
  };
}

/** What a failover execution reports (ms after the failure it confirmed, `failureAtMs`). */
export interface FailoverReport {
  readonly failureAtMs: number;
  readonly servingAfterMs?: number | undefined;
  readonly workersBackAfterMs?: number | undefined;
  readonly timeline: readonly { readonly atMs: number; readonly event: string }[];
}

/** Failover drill figures: durations in ms from the moment the active coordinator was killed. */
export interface FailoverFigures {
  readonly detectedAfterMs: number;
  readonly servingAfterMs: number | null;
  readonly workersBackAfterMs: number | null;
  /** servingAfterMs − the configured detection window: what the control plane itself adds. */
  readonly controlPlaneOverheadMs: number | null;
  readonly detectionWindowMs: number;
  readonly timeline: readonly { readonly afterMs: number; readonly event: string }[];
}

/**
 * The failover drill's figures, re-based on the kill.
 * @param times.killedAtMs - When the drill killed the active coordinator.
 * @param times.detectedAtMs - When the detector confirmed the failure and started the failover.
 * @param detection - The detector's configuration: FAILURES_TO_CONFIRM and PROBE_INTERVAL_MS.
 * @example
 * failoverFigures({ killedAtMs: 1000, detectedAtMs: 4200 },
 *   { failureAtMs: 1500, servingAfterMs: 4000, timeline: [] }, { failuresToConfirm: 3, probeIntervalMs: 1000 });
 * // { detectedAfterMs: 3200, servingAfterMs: 4500, controlPlaneOverheadMs: 1500, detectionWindowMs: 3000, … }
 */
export function failoverFigures(
  times: { readonly killedAtMs: number; readonly detectedAtMs: number },
  report: FailoverReport,
  detection: { readonly failuresToConfirm: number; readonly probeIntervalMs: number },
): FailoverFigures {
  const sinceKill = (after: number | undefined) =>
    after === undefined ? null : report.failureAtMs + after - times.killedAtMs;
  const servingAfterMs = sinceKill(report.servingAfterMs);
  const detectionWindowMs = detection.failuresToConfirm * detection.probeIntervalMs;
  return {
    detectedAfterMs: times.detectedAtMs - times.killedAtMs,
    servingAfterMs,
    workersBackAfterMs: sinceKill(report.workersBackAfterMs),
    controlPlaneOverheadMs: servingAfterMs === null ? null : servingAfterMs - detectionWindowMs,
    detectionWindowMs,
    timeline: report.timeline.map((t) => ({ afterMs: t.atMs - times.killedAtMs, event: t.event })),
  };
}

/** The bench's summary of several failover drills. */
export interface FailoverBenchSummary {
  readonly medianOverheadMs: number | null;
  readonly medianServingAfterMs: number | null;
  readonly medianWorkersBackAfterMs: number | null;
  readonly falseFailovers: number;
}

/**
 * Medians over the drills that measured each figure (a null is left out), and the false failovers of all of them.
 */
export function failoverBenchSummary(
  results: readonly (Pick<
    FailoverFigures,
    'controlPlaneOverheadMs' | 'servingAfterMs' | 'workersBackAfterMs'
  > & { readonly falseFailovers: number })[],
): FailoverBenchSummary {
  const measured = (values: readonly (number | null)[]) => values.filter((v): v is number => v !== null);
  return {
    medianOverheadMs: median(measured(results.map((r) => r.controlPlaneOverheadMs))),
    medianServingAfterMs: median(measured(results.map((r) => r.servingAfterMs))),
    medianWorkersBackAfterMs: median(measured(results.map((r) => r.workersBackAfterMs))),
    falseFailovers: results.reduce((sum, r) => sum + r.falseFailovers, 0),
  };
}

/** Query-log drill figures. */
export interface QueryLogFigures {
  readonly queriesRun: number;
  readonly documentsFound: number;
  readonly missing: number;
  /** p99 of end → searchable, ms (null when nothing was found). */
  readonly lagP99Ms: number | null;
  readonly lagMedianMs: number | null;
}

/**
 * What the query-log drill measures.
 * @param queriesRun - Queries whose end the client saw.
 * @param lagsMs - For each query found in the search engine, ms from its end to its first sighting.
 */
export function queryLogFigures(queriesRun: number, lagsMs: readonly number[]): QueryLogFigures {
  return {
    queriesRun,
    documentsFound: lagsMs.length,
    missing: queriesRun - lagsMs.length,
    lagP99Ms: percentile(lagsMs, 99),
    lagMedianMs: percentile(lagsMs, 50),
  };
}

/** The tail of one figure over several runs, ms: nearest-rank p50 and p90, and the maximum. */
export interface TailFigure {
  readonly p50: number | null;
  readonly p90: number | null;
  readonly max: number | null;
  /** Runs that measured it (a run that never got there is left out, and counted in `missing`). */
  readonly measured: number;
  readonly missing: number;
}

/**
 * p50, p90 and max of the runs that measured a figure ({@link percentile}); a null (never reached) is left out of
 * the percentiles and counted in `missing`, so a run that never got there cannot flatter the tail unnoticed.
 * @example tailFigure([10, 20, null, 40]) // { p50: 20, p90: 40, max: 40, measured: 3, missing: 1 }
 */
export function tailFigure(values: readonly (number | null)[]): TailFigure {
  const measured = values.filter((v): v is number => v !== null);
  return {
    p50: percentile(measured, 50),
    p90: percentile(measured, 90),
    max: measured.length === 0 ? null : Math.max(...measured),
    measured: measured.length,
    missing: values.length - measured.length,
  };
}

/** One deployed failover run, as the tail summary reads it (ms from the hang, null when never reached). */
export interface FailoverRunTimes {
  readonly outcome: string;
  readonly falseFailovers: number;
  /** New attachments of the ENI during the run (1 for one failover). */
  readonly enisAttached: number;
  readonly detectedAfterMs: number | null;
  readonly servingAfterMs: number | null;
  readonly workersBackAfterMs: number | null;
  /** The ENI seen attached to the new coordinator. */
  readonly eniAttachedAfterMs: number | null;
  readonly replacementReadyAfterMs: number | null;
}

/** What `drill failover --deployed --repeat N` prints besides the runs. */
export interface FailoverTailSummary {
  /** Runs whose execution ended `FAILED_OVER`. */
  readonly failedOver: number;
  /** Failover executions started while the cluster was healthy, over all runs. */
  readonly falseFailovers: number;
  /** ENI moves of each run, in order (1 each for one failover per hang). */
  readonly eniMovesPerRun: readonly number[];
  readonly summary: {
    readonly detectedAfterMs: TailFigure;
    readonly servingAfterMs: TailFigure;
    readonly workersBackAfterMs: TailFigure;
    /** Workers back, ms after the ENI was seen attached to the new coordinator. */
    readonly workersBackAfterMoveMs: TailFigure;
    readonly replacementReadyAfterMs: TailFigure;
  };
}

/**
 * The tail of several deployed failovers: each figure's {@link tailFigure} from the hang, workers back also from the
 * ENI's attach; how many failed over, false failovers, ENI moves per run.
 * @example failoverTailSummary([{ outcome: 'FAILED_OVER', falseFailovers: 0, enisAttached: 1, detectedAfterMs: 14_000,
 *   servingAfterMs: 18_000, workersBackAfterMs: 25_000, eniAttachedAfterMs: 17_000, replacementReadyAfterMs: 90_000 }])
 * // { failedOver: 1, falseFailovers: 0, eniMovesPerRun: [1], summary: { workersBackAfterMoveMs: { p50: 8000, … }, … } }
 */
export function failoverTailSummary(runs: readonly FailoverRunTimes[]): FailoverTailSummary {
  const figure = (pick: (run: FailoverRunTimes) => number | null) => tailFigure(runs.map(pick));
  return {
    failedOver: runs.filter((run) => run.outcome === 'FAILED_OVER').length,
    falseFailovers: runs.reduce((sum, run) => sum + run.falseFailovers, 0),
    eniMovesPerRun: runs.map((run) => run.enisAttached),
    summary: {
      detectedAfterMs: figure((run) => run.detectedAfterMs),
      servingAfterMs: figure((run) => run.servingAfterMs),
      workersBackAfterMs: figure((run) => run.workersBackAfterMs),
      workersBackAfterMoveMs: figure((run) =>
        run.workersBackAfterMs === null || run.eniAttachedAfterMs === null
          ? null
          : run.workersBackAfterMs - run.eniAttachedAfterMs,
      ),
      replacementReadyAfterMs: figure((run) => run.replacementReadyAfterMs),
    },
  };
}

/**
 * Where in the health loop's minute a moment falls: ms after the latest scheduled invocation at or before it.
 * @param atMs - The moment (epoch ms).
 * @param scheduledAtMs - Any scheduled time of the schedule (epoch ms), e.g. the last firing.
 * @param periodMs - The schedule's period (60 000 for `rate(1 minute)`).
 * @example schedulePhaseMs(125_000, 60_000, 60_000) // 5_000
 */
export function schedulePhaseMs(atMs: number, scheduledAtMs: number, periodMs: number): number {
  return (((atMs - scheduledAtMs) % periodMs) + periodMs) % periodMs;
}

/**
 * How long to wait from `nowMs` until the schedule's phase is `targetPhaseMs` (0 ≤ wait < period): a hang drawn
 * uniformly over the minute lands anywhere in the health loop's cycle.
 * @example waitForPhaseMs(125_000, 60_000, 60_000, 2_000) // 57_000
 */
export function waitForPhaseMs(
  nowMs: number,
  scheduledAtMs: number,
  periodMs: number,
  targetPhaseMs: number,
): number {
  return schedulePhaseMs(scheduledAtMs + targetPhaseMs - nowMs, 0, periodMs);
}
