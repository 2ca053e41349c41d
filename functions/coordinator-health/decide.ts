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
