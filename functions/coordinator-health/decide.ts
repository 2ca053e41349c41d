/**
 * Pure decisions of coordinator health detection: when a run of failed probes becomes a *confirmed* failure.
 * No I/O, no clock: observations and time are arguments.
 *
 * A failure is confirmed only when both hold:
 * 1. the last `failuresToConfirm` probes through the coordinator ENI's address failed (default 3 × 5 s), and
 * 2. an independent signal agrees, read in the same round: the ENI is detached, the EC2 instance is not running,
 *    its EC2 status checks are impaired, or a probe of the instance's own primary address failed.
 * So a stop-the-world pause shorter than the grace window (failuresToConfirm × probe interval) never fails over,
 * and one lost packet never does. A signal that could not be read (`UNKNOWN`: an EC2 call throttled or failed, no
 * address to probe) is never taken for a definite one: unknown never confirms (trino-gateway's UNKNOWN status).
 *
 * @module
 */

/** Outcome of one `GET /v1/info` probe. */
export type ProbeResult =
  /** Answered `starting: false` within the timeout. */
  | 'OK'
  /** Answered, but still `starting: true`. */
  | 'STARTING'
  /** Timed out, refused, TLS failure, non-2xx, or a body that is not ServerInfo. */
  | 'FAILED';

/** A reading that could not be taken (the call failed or was throttled): never a definite value. */
export type Unknown = 'UNKNOWN';

/** One probe round. Fields left `undefined` were not read this round. */
export interface ProbeRound {
  /** Epoch ms of the round. */
  readonly atMs: number;
  /** Probe through the coordinator ENI's address (what clients and workers use). */
  readonly viaEni: ProbeResult;
  /** The coordinator ENI's attachment (`DescribeNetworkInterfaces`). */
  readonly eni?: 'ATTACHED' | 'DETACHED' | Unknown;
  /** Probe of the holder's primary private address; `UNKNOWN` when there was no address to probe. */
  readonly viaPrimary?: ProbeResult | Unknown;
  /** EC2 instance state name of the holder (`running`, `stopped`, `terminated`, …). */
  readonly instanceState?: string | Unknown;
  /** EC2 status checks of the holder: `ok`, `impaired`, or `not-reported`. */
  readonly instanceStatus?: 'ok' | 'impaired' | 'not-reported' | Unknown;
}

/** Detection settings. */
export interface DetectionPolicy {
  /** Consecutive failed ENI probes needed (default 3). */
  readonly failuresToConfirm: number;
}

/** Running state of the detector, carried across rounds. */
export interface DetectorState {
  readonly consecutiveFailures: number;
  /** Epoch ms of the first failure of the current run; `undefined` when healthy. */
  readonly firstFailureAtMs?: number;
}

/** Verdict of one round. */
export interface HealthVerdict {
  /** Published as `CoordinatorHealthy` (1/0) every round. */
  readonly healthy: boolean;
  /** True once the failure is confirmed by count and by a second signal. */
  readonly confirmedFailure: boolean;
  /** Which independent signal confirmed it. */
  readonly secondSignal?: SecondSignal;
  /** Signals that could not be read this round (they confirm nothing). */
  readonly unknownSignals: readonly string[];
  /** ms from the first failed probe of the run to this round (detection time). */
  readonly failingForMs?: number;
  readonly state: DetectorState;
}

/** The independent signals, each read in the same round as the failed ENI probe. */
export type SecondSignal =
  | 'ENI_DETACHED'
  | 'INSTANCE_NOT_RUNNING'
  | 'STATUS_IMPAIRED'
  | 'PRIMARY_ADDRESS_FAILED';

/** The initial detector state. */
export const HEALTHY: DetectorState = { consecutiveFailures: 0 };

/**
 * Folds one probe round into the detector state.
 * @param state - Carried state (start with {@link HEALTHY}).
 * @param round - This round's observations.
 * @param policy - See {@link DetectionPolicy}.
 * @returns The verdict; `confirmedFailure` needs both the count and a second signal.
 * @example assessRound(HEALTHY, { atMs, viaEni: 'FAILED' }, { failuresToConfirm: 3 }).confirmedFailure // false
 */
export function assessRound(state: DetectorState, round: ProbeRound, policy: DetectionPolicy): HealthVerdict {
  if (round.viaEni === 'OK')
    return { healthy: true, confirmedFailure: false, unknownSignals: [], state: HEALTHY };
  // STARTING counts as unhealthy for publishing, but a node that answers is alive: it never confirms a failure.
  if (round.viaEni === 'STARTING') {
    return { healthy: false, confirmedFailure: false, unknownSignals: [], state: HEALTHY };
  }
  const consecutiveFailures = state.consecutiveFailures + 1;
  const firstFailureAtMs = state.firstFailureAtMs ?? round.atMs;
  const next: DetectorState = { consecutiveFailures, firstFailureAtMs };
  const failingForMs = round.atMs - firstFailureAtMs;
  const secondSignal = independentSignal(round);
  const confirmed = consecutiveFailures >= policy.failuresToConfirm && secondSignal !== undefined;
  return {
    healthy: false,
    confirmedFailure: confirmed,
    ...(secondSignal === undefined ? {} : { secondSignal }),
    unknownSignals: unknownSignals(round),
    failingForMs,
    state: next,
  };
}

/**
 * Whether a round must read the independent signals after a failed ENI probe: only when this failure can reach
 * `failuresToConfirm` (the signals confirm nothing before). A failed round below the count then costs one probe
 * timeout, not two plus the EC2 reads, which keeps the last round of an invocation short ({@link roundSchedule}).
 * @param state - The state before the round.
 * @param policy - See {@link DetectionPolicy}.
 * @example needsSecondSignal({ consecutiveFailures: 2, firstFailureAtMs: 0 }, { failuresToConfirm: 3 }) // true
 */
export function needsSecondSignal(state: DetectorState, policy: DetectionPolicy): boolean {
  return state.consecutiveFailures + 1 >= policy.failuresToConfirm;
}

/**
 * The detector state as stored between invocations (`DETECTOR_STATE_SSM_PARAMETER`, JSON): the run of failed
 * probes and when the last probe was taken, so the next invocation continues the run only while it is fresh.
 */
export interface StoredDetectorState extends DetectorState {
  /** Epoch ms of the last probe round the writing invocation took (healthy or not). */
  readonly lastProbeAtMs: number;
}

/** How an invocation takes over from the one before it. */
export interface HandoverPolicy {
  /** Cadence of the probes (`PROBE_INTERVAL_MS`). */
  readonly probeIntervalMs: number;
  /** How much later than one interval the next probe may come and still continue a stored run (`HANDOVER_JITTER_MS`). */
  readonly handoverJitterMs: number;
}

/** Where an invocation starts: the state it continues and when its first round may be taken. */
export interface Resumed {
  readonly state: DetectorState;
  /** Epoch ms of the first round: never earlier than one interval after the stored last probe. */
  readonly firstRoundAtMs: number;
  /**
   * `NONE`: nothing stored (or it could not be read: unknown starts healthy, it never counts towards a failure);
   * `FRESH`: the stored state is continued; `STALE`: a stored run too old to count was discarded.
   */
  readonly carried: 'NONE' | 'FRESH' | 'STALE';
}

/**
 * Resumes the detector from the state the previous invocation stored. A stored run of failures is continued only
 * if its last probe is at most one probe interval + jitter old (so a run never spans unprobed time: minutes with
 * no invocation, a throttled start); otherwise the invocation starts healthy. The first round waits until one
 * interval after the stored last probe (two probes are never closer than the interval, so a run of N failures
 * always spans (N − 1) intervals, across the boundary too: a pause shorter than the window never confirms).
 * @param stored - The stored state; `undefined` when there is none or it could not be read.
 * @param nowMs - Epoch ms at the invocation's start.
 * @param policy - See {@link HandoverPolicy}.
 * @example resumeState({ consecutiveFailures: 2, firstFailureAtMs: 0, lastProbeAtMs: 5_000 }, 9_000, { probeIntervalMs: 5_000, handoverJitterMs: 5_000 })
 * // { state: { consecutiveFailures: 2, firstFailureAtMs: 0 }, firstRoundAtMs: 10_000, carried: 'FRESH' }
 */
export function resumeState(
  stored: StoredDetectorState | undefined,
  nowMs: number,
  policy: HandoverPolicy,
): Resumed {
  if (stored === undefined) return { state: HEALTHY, firstRoundAtMs: nowMs, carried: 'NONE' };
  const ageMs = nowMs - stored.lastProbeAtMs;
  // A last probe in the future (clocks apart) is as untrustworthy as an old one.
  if (ageMs > policy.probeIntervalMs + policy.handoverJitterMs || ageMs < -policy.handoverJitterMs) {
    return { state: HEALTHY, firstRoundAtMs: nowMs, carried: 'STALE' };
  }
  const state: DetectorState =
    stored.consecutiveFailures > 0 && stored.firstFailureAtMs !== undefined
      ? { consecutiveFailures: stored.consecutiveFailures, firstFailureAtMs: stored.firstFailureAtMs }
      : HEALTHY;
  return {
    state,
    firstRoundAtMs: Math.max(nowMs, Math.min(stored.lastProbeAtMs, nowMs) + policy.probeIntervalMs),
    carried: 'FRESH',
  };
}

/** When an invocation's rounds are taken. */
export interface RoundSchedule {
  /** Cadence (`PROBE_INTERVAL_MS`). */
  readonly probeIntervalMs: number;
  /** Rounds are taken at `phaseMs + k × probeIntervalMs` (any integer k) after the first one. */
  readonly phaseMs: number;
  /** No round starts after this epoch ms. */
  readonly lastRoundByMs: number;
}

/**
 * The round schedule of one invocation. A scheduled invocation ends its last round just before the next one
 * starts: the last round starts at `scheduledAtMs + loopDurationMs` (with the default 57.5 s of a 60 s schedule,
 * 2.5 s before the next invocation: one probe timeout and the store write), and every round lies on that grid, so
 * the next invocation's first round falls one interval after this one's last (no unprobed gap) when it starts
 * within 2.5 s of its scheduled time. Called directly (no scheduled time: tests, drills), the grid starts at the
 * first round and ends `loopDurationMs` after the start.
 * @param input.scheduledAtMs - The scheduled event's `time` (epoch ms), or `undefined`.
 * @param input.startMs - Epoch ms at the invocation's start.
 * @param input.firstRoundAtMs - From {@link resumeState}.
 * @param input.loopDurationMs - `LOOP_DURATION_MS`.
 * @param input.probeIntervalMs - `PROBE_INTERVAL_MS`.
 * @example roundSchedule({ scheduledAtMs: 0, startMs: 300, firstRoundAtMs: 300, loopDurationMs: 57_500, probeIntervalMs: 5_000 })
 * // { probeIntervalMs: 5_000, phaseMs: 57_500, lastRoundByMs: 57_500 }
 */
export function roundSchedule(input: {
  readonly scheduledAtMs: number | undefined;
  readonly startMs: number;
  readonly firstRoundAtMs: number;
  readonly loopDurationMs: number;
  readonly probeIntervalMs: number;
}): RoundSchedule {
  if (input.scheduledAtMs === undefined) {
    return {
      probeIntervalMs: input.probeIntervalMs,
      phaseMs: input.firstRoundAtMs,
      lastRoundByMs: input.startMs + input.loopDurationMs,
    };
  }
  const end = input.scheduledAtMs + input.loopDurationMs;
  return { probeIntervalMs: input.probeIntervalMs, phaseMs: end, lastRoundByMs: end };
}

/**
 * The next round after one taken at `previousAtMs`: the first grid time at least one interval later (rounds are
 * never closer than the interval), or `undefined` when it would start after the schedule's last round.
 * @param previousAtMs - Epoch ms of the previous round's start.
 * @param schedule - From {@link roundSchedule}.
 * @example nextRoundAtMs(300, { probeIntervalMs: 5_000, phaseMs: 57_500, lastRoundByMs: 57_500 }) // 7_500
 */
export function nextRoundAtMs(previousAtMs: number, schedule: RoundSchedule): number | undefined {
  const earliest = previousAtMs + schedule.probeIntervalMs;
  const offset =
    (((schedule.phaseMs - earliest) % schedule.probeIntervalMs) + schedule.probeIntervalMs) %
    schedule.probeIntervalMs;
  const next = earliest + offset;
  return next > schedule.lastRoundByMs ? undefined : next;
}

function independentSignal(round: ProbeRound): SecondSignal | undefined {
  if (round.eni === 'DETACHED') return 'ENI_DETACHED';
  if (
    round.instanceState !== undefined &&
    round.instanceState !== 'UNKNOWN' &&
    round.instanceState !== 'running'
  ) {
    return 'INSTANCE_NOT_RUNNING';
  }
  if (round.instanceStatus === 'impaired') return 'STATUS_IMPAIRED';
  if (round.viaPrimary === 'FAILED') return 'PRIMARY_ADDRESS_FAILED';
  return undefined;
}

function unknownSignals(round: ProbeRound): string[] {
  const fields = {
    eni: round.eni,
    instanceState: round.instanceState,
    instanceStatus: round.instanceStatus,
    viaPrimary: round.viaPrimary,
  };
  return Object.entries(fields).flatMap(([name, value]) => (value === 'UNKNOWN' ? [name] : []));
}

/**
 * The failover execution's name for a confirmed failure: unique per minute, cluster and ENI attachment, so two
 * detectors confirming the same failure within the same minute ask for the same name (one start), while a later
 * failure of the same coordinator always gets a new one (Step Functions reserves a closed execution's name for
 * 90 days). At most 80 characters (the API's limit), letters, digits, `-` and `_`.
 * @param clusterName - The cluster.
 * @param attachmentId - The ENI attachment the detector saw; `undefined` when the ENI is detached.
 * @param nowMs - Epoch ms.
 */
export function failoverExecutionName(
  clusterName: string,
  attachmentId: string | undefined,
  nowMs: number,
): string {
  const minute = Math.floor(nowMs / 60_000);
  return `failover-${minute}-${clusterName}-${attachmentId ?? 'detached'}`
    .replace(/[^A-Za-z0-9_-]/g, '_')
    .slice(0, 80);
}
