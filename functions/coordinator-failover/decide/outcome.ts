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

/**
 * What a failed execution does with the ENI before it fails (NotifyFailure): a failover that stopped after its
 * detach (a timeout, an error) must not leave the cluster headless.
 * @param eni - Current view.
 * @param candidates - The coordinator group's members, probed.
 * @param oldHolder - The instance the plan detached from, and whether it answers as a coordinator now.
 * @returns `ATTACH` to a healthy standby (preferred) or to the old holder when it answers; `NONE` when the ENI is
 *   attached (nothing to recover) or nobody can take it (the alarm says so).
 */
export function decideRecovery(
  eni: EniView & { readonly availabilityZone?: string },
  candidates: readonly CoordinatorCandidate[],
  oldHolder: { readonly instanceId: string; readonly answers: boolean; readonly state: string } | undefined,
):
  | { readonly action: 'ATTACH'; readonly instanceId: string; readonly reason: string }
  | { readonly action: 'NONE'; readonly reason: string } {
  const attachment = eni.attachment?.status === 'detached' ? undefined : eni.attachment;
  if (attachment !== undefined || eni.status !== 'available') {
    return {
      action: 'NONE',
      reason: `The ENI is ${eni.status}${attachment ? ` on ${attachment.instanceId}` : ''}: nothing to recover`,
    };
  }
  const standby = chooseStandby(candidates, eni.availabilityZone, oldHolder?.instanceId);
  if (standby !== undefined) {
    return {
      action: 'ATTACH',
      instanceId: standby,
      reason: `The ENI was left detached: attaching it to healthy standby ${standby}`,
    };
  }
  if (oldHolder?.answers && oldHolder.state === 'running') {
    return {
      action: 'ATTACH',
      instanceId: oldHolder.instanceId,
      reason: `The ENI was left detached and no standby is healthy: giving it back to ${oldHolder.instanceId}, which answers`,
    };
  }
  return {
    action: 'NONE',
    reason: 'The ENI is detached and no coordinator can take it: the cluster is headless',
  };
}
