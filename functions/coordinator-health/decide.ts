/**
 * Pure decisions of coordinator health detection: when a run of failed probes becomes a *confirmed* failure.
 * No I/O, no clock: observations and time are arguments.
 *
 * A failure is confirmed only when both hold:
 * 1. the last `failuresToConfirm` probes through the coordinator ENI's address failed (default 3 × 5 s), and
 * 2. an independent signal agrees: the EC2 instance is not running, its EC2 status checks are impaired, or a
 *    probe of the instance's own primary address failed in the same round.
 * So a stop-the-world pause shorter than the grace window (failuresToConfirm × probe interval) never fails over,
 * and one lost packet never does.
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

/** One probe round. */
export interface ProbeRound {
  /** Epoch ms of the round. */
  readonly atMs: number;
  /** Probe through the coordinator ENI's address (what clients and workers use). */
  readonly viaEni: ProbeResult;
  /** Probe of the instance's primary private address; `undefined` when not probed this round. */
  readonly viaPrimary?: ProbeResult;
  /** EC2 instance state name (`running`, `stopped`, …); `undefined` when not read this round. */
  readonly instanceState?: string;
  /** EC2 instance/system status checks: `ok`, `impaired`, `initializing`, `insufficient-data`, `not-applicable`. */
  readonly instanceStatus?: string;
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
  readonly secondSignal?: 'INSTANCE_NOT_RUNNING' | 'STATUS_IMPAIRED' | 'PRIMARY_ADDRESS_FAILED';
  /** ms from the first failed probe of the run to this round (detection time). */
  readonly failingForMs?: number;
  readonly state: DetectorState;
}

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
  if (round.viaEni === 'OK') return { healthy: true, confirmedFailure: false, state: HEALTHY };
  // STARTING counts as unhealthy for publishing, but a node that answers is alive: it never confirms a failure.
  if (round.viaEni === 'STARTING') {
    return { healthy: false, confirmedFailure: false, state: HEALTHY };
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
    failingForMs,
    state: next,
  };
}

function independentSignal(round: ProbeRound): HealthVerdict['secondSignal'] {
  if (round.instanceState !== undefined && round.instanceState !== 'running') return 'INSTANCE_NOT_RUNNING';
  if (round.instanceStatus === 'impaired') return 'STATUS_IMPAIRED';
  if (round.viaPrimary === 'FAILED') return 'PRIMARY_ADDRESS_FAILED';
  return undefined;
}
