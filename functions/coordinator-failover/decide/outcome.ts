/**
 * Pure decisions at the end of a coordinator failover: whether the cluster is serving again, the report of its
 * timings, and recovery after a failed one.
 * No I/O, no clock: observations and time are arguments.
 *
 * @module
 */

import type { EniView } from './eni.ts';
import { type CoordinatorCandidate, chooseStandby } from './standby.ts';

/** Steps of the serving check. */
export const SERVING_STEPS = ['SERVING', 'WAIT', 'TIMEOUT'] as const;

/**
 * Whether the new coordinator is serving: it answers on the ENI address and the workers have re-announced.
 * @returns `SERVING` when it answers on the ENI address and the workers it sees reach the pre-failure count
 *   (`baselineWorkers`), or the configured `minimumWorkers` when that is set (> 0) and lower; else `WAIT` until
 *   `timeoutMs`, then `TIMEOUT`.
 */
export function decideServing(input: {
  readonly answersOnEni: boolean;
  readonly workers: number;
  readonly baselineWorkers: number;
  readonly minimumWorkers: number;
  readonly elapsedMs: number;
  readonly timeoutMs: number;
}): (typeof SERVING_STEPS)[number] {
  const needed =
    input.minimumWorkers > 0 ? Math.min(input.baselineWorkers, input.minimumWorkers) : input.baselineWorkers;
  if (input.answersOnEni && input.workers >= needed) return 'SERVING';
  return input.elapsedMs >= input.timeoutMs ? 'TIMEOUT' : 'WAIT';
}

/** Timestamps of one failover, epoch ms (undefined: did not happen). */
export interface FailoverTimes {
  /** When the first failed probe of the confirmed failure was sent (trigger time − detectedAfterMs). */
  readonly failureAtMs: number;
  /** When the execution started. */
  readonly startedAtMs: number;
  readonly detachedAtMs?: number;
  readonly attachedAtMs?: number;
  /** First `GET /v1/info` through the ENI address that answered `starting:false` from the new coordinator. */
  readonly servingAtMs?: number;
  /** When `/v1/node` first showed the needed worker count. */
  readonly workersBackAtMs?: number;
  readonly endedAtMs: number;
}

/** Durations reported by a failover (ms), from {@link FailoverTimes}. */
export interface FailoverReport {
  /** Failure → confirmed (trigger). */
  readonly detectedAfterMs: number;
  /** Failure → the coordinator answers on the ENI address again. */
  readonly servingAfterMs?: number;
  /** Failure → the workers have re-announced. */
  readonly workersBackAfterMs?: number;
  /** Execution start → serving: the control plane's own part. */
  readonly controlPlaneMs?: number;
  /** Failure → end of the execution (`FailoverDurationSeconds` × 1000). */
  readonly totalMs: number;
}

/** Computes the report durations. Pure. */
export function failoverReport(times: FailoverTimes): FailoverReport {
  const since = (at: number | undefined) => (at === undefined ? undefined : at - times.failureAtMs);
  const servingAfterMs = since(times.servingAtMs);
  const workersBackAfterMs = since(times.workersBackAtMs);
  return {
    detectedAfterMs: times.startedAtMs - times.failureAtMs,
    ...(servingAfterMs === undefined ? {} : { servingAfterMs }),
    ...(workersBackAfterMs === undefined ? {} : { workersBackAfterMs }),
    ...(times.servingAtMs === undefined ? {} : { controlPlaneMs: times.servingAtMs - times.startedAtMs }),
    totalMs: times.endedAtMs - times.failureAtMs,
  };
}

/** The instance the plan detached from, as NotifyFailure sees it. */
export interface OldHolderView {
  readonly instanceId: string;
  /** It answers as a coordinator on its primary address now. */
  readonly answers: boolean;
  /** EC2 state name; `terminated` when EC2 no longer knows it. */
  readonly state: string;
  /** The plan's fence for it (`NONE`: a drill keeps a healthy coordinator as a standby). */
  readonly fenceAction: 'TERMINATE' | 'STOP' | 'NONE';
  /** This execution already fenced it (FenceFailed ran). */
  readonly fenced: boolean;
}

/** What NotifyFailure does with a detached ENI. */
export type RecoveryDecision =
  | {
      readonly action: 'ATTACH';
      readonly instanceId: string;
      /**
       * Fence the old holder (the plan's stop or terminate) before the attach: it goes to another instance while the
       * old holder was never fenced. If the fence fails, nothing is attached.
       */
      readonly fenceFirst: boolean;
      readonly reason: string;
    }
  | { readonly action: 'NONE'; readonly reason: string };

/**
 * What a failed execution does with the ENI before it fails (NotifyFailure): a failover that stopped after its
 * detach (a timeout, an error) must not leave the cluster headless — and must not give the address to another
 * instance while the old holder may still serve (fenced first, as on the normal path).
 * @param eni - Current view.
 * @param candidates - The coordinator group's members, probed (the standby whose attach failed already removed).
 * @param oldHolder - The instance the plan detached from; `undefined` when the plan had none.
 * @returns `ATTACH` to a healthy standby (preferred; `fenceFirst` when the old holder is not fenced yet, not
 *   stopped or terminated, and the plan fences it) or to the old holder when it answers; `NONE` when the ENI is
 *   attached (nothing to recover) or nobody can take it (the alarm says so).
 */
export function decideRecovery(
  eni: EniView & { readonly availabilityZone?: string },
  candidates: readonly CoordinatorCandidate[],
  oldHolder: OldHolderView | undefined,
): RecoveryDecision {
  const attachment = eni.attachment?.status === 'detached' ? undefined : eni.attachment;
  if (attachment !== undefined || eni.status !== 'available') {
    return {
      action: 'NONE',
      reason: `The ENI is ${eni.status}${attachment ? ` on ${attachment.instanceId}` : ''}: nothing to recover`,
    };
  }
  const standby = chooseStandby(candidates, eni.availabilityZone, oldHolder?.instanceId);
  if (standby !== undefined) {
    const fenceFirst =
      oldHolder !== undefined &&
      !oldHolder.fenced &&
      oldHolder.fenceAction !== 'NONE' &&
      oldHolder.state !== 'terminated' &&
      oldHolder.state !== 'stopped';
    return {
      action: 'ATTACH',
      instanceId: standby,
      fenceFirst,
      reason: `The ENI was left detached: ${fenceFirst ? `fencing ${oldHolder?.instanceId} first, then ` : ''}attaching it to healthy standby ${standby}`,
    };
  }
  if (oldHolder?.answers && oldHolder.state === 'running') {
    return {
      action: 'ATTACH',
      instanceId: oldHolder.instanceId,
      fenceFirst: false,
      reason: `The ENI was left detached and no standby is healthy: giving it back to ${oldHolder.instanceId}, which answers`,
    };
  }
  return {
    action: 'NONE',
    reason: 'The ENI is detached and no coordinator can take it: the cluster is headless',
  };
}
