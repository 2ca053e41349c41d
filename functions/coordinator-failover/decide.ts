/**
 * Pure decisions of coordinator failover: which standby, how to fence, when to force a detach, when the
 * cluster is serving again, and the dry-run plan. No I/O, no clock: observations and time are arguments.
 *
 * The fencing argument (docs/failover.md): the coordinator address lives on one ENI, and an ENI has at most one
 * attachment. We attach it to the standby only after EC2 reports the old attachment gone (`available`, no
 * attachment), and the failed instance is then stopped or terminated, so no two coordinators ever own the
 * address at once. EC2 refuses to attach an attached ENI; our code checks the attachment itself as well
 * (moto does not refuse), see {@link decideAttach}.
 *
 * @module
 */

/** A coordinator instance as the failover sees it. */
export interface CoordinatorCandidate {
  readonly instanceId: string;
  /** EC2 state name. */
  readonly state: string;
  /** `trino-sentinel:role` tag: `coordinator` (active) or `standby`. */
  readonly role?: string;
  /** `trino-sentinel:cluster` tag. */
  readonly cluster?: string;
  /** `GET /v1/info` on its primary address answered `starting:false` with `coordinator:true`. */
  readonly healthy: boolean;
  /** Launch time, epoch ms (older standbys are warmer: preferred). */
  readonly launchTimeMs: number;
  readonly availabilityZone?: string;
}

/**
 * Chooses the standby to promote: running, tagged `standby` of this cluster, healthy on its primary address;
 * same AZ as the ENI first (an ENI can only attach in its own AZ), then the longest-running.
 * @returns The chosen instance id, or `undefined` when there is none (raise the alarm, scale out, wait).
 */
export function chooseStandby(
  candidates: readonly CoordinatorCandidate[],
  clusterName: string,
  eniAvailabilityZone: string | undefined,
  excludeInstanceId?: string,
): string | undefined {
  const eligible = candidates.filter(
    (c) =>
      c.instanceId !== excludeInstanceId &&
      c.state === 'running' &&
      c.role === 'standby' &&
      c.cluster === clusterName &&
      c.healthy &&
      (eniAvailabilityZone === undefined ||
        c.availabilityZone === undefined ||
        c.availabilityZone === eniAvailabilityZone),
  );
  eligible.sort((a, b) => a.launchTimeMs - b.launchTimeMs || a.instanceId.localeCompare(b.instanceId));
  return eligible[0]?.instanceId;
}

/** How to fence the failed coordinator. */
export interface FencePlan {
  /** `DetachNetworkInterface` with `Force: true`: only when the instance is impaired or does not answer. */
  readonly forceDetach: boolean;
  /** What to do with the failed instance once the ENI is detached. */
  readonly instanceAction: 'TERMINATE' | 'STOP' | 'NONE';
}

/**
 * Plans the fence of the failed (or, in a drill, the active) coordinator.
 * - Force the detach only if the instance is impaired, not running, or its process does not answer (a healthy OS
 *   releases the ENI cleanly; force may leave the slot unusable until stop/start).
 * - Terminate an instance in an Auto Scaling group (the group replaces it as a new standby); stop one that is not.
 * - A drill on a healthy coordinator keeps the instance (it becomes a standby).
 */
export function planFence(input: {
  readonly instanceState: string;
  readonly instanceStatus?: string;
  readonly processAnswers: boolean;
  readonly inAutoScalingGroup: boolean;
  readonly drill: boolean;
}): FencePlan {
  const impaired = input.instanceStatus === 'impaired' || input.instanceState !== 'running';
  const forceDetach = impaired || !input.processAnswers;
  if (input.drill && input.processAnswers && !impaired) return { forceDetach: false, instanceAction: 'NONE' };
  if (input.instanceState === 'terminated' || input.instanceState === 'shutting-down') {
    return { forceDetach, instanceAction: 'NONE' };
  }
  return { forceDetach, instanceAction: input.inAutoScalingGroup ? 'TERMINATE' : 'STOP' };
}

/** ENI attachment as EC2 reports it (`DescribeNetworkInterfaces`). */
export interface EniView {
  /** `available` | `in-use` | `attaching` | `detaching` | `associated`. */
  readonly status: string;
  readonly attachment?: {
    readonly attachmentId: string;
    readonly instanceId?: string;
    /** `attaching` | `attached` | `detaching` | `detached`. */
    readonly status: string;
    readonly deviceIndex?: number;
  };
}

/** Next step while waiting for a detach. */
export type DetachStep = 'DETACHED' | 'WAIT' | 'FORCE' | 'GIVE_UP';

/**
 * Decides while waiting for the ENI to detach from the failed instance.
 * @param eni - Current view.
 * @param elapsedMs - Since the detach request.
 * @param forced - Whether a forced detach was already sent.
 * @param policy - `forceAfterMs` (escalate a stuck normal detach), `giveUpAfterMs` (fail the execution, alarm).
 */
export function decideDetach(
  eni: EniView,
  elapsedMs: number,
  forced: boolean,
  policy: { readonly forceAfterMs: number; readonly giveUpAfterMs: number },
): DetachStep {
  if (eni.status === 'available' && (eni.attachment === undefined || eni.attachment.status === 'detached')) {
    return 'DETACHED';
  }
  if (elapsedMs >= policy.giveUpAfterMs) return 'GIVE_UP';
  if (!forced && elapsedMs >= policy.forceAfterMs) return 'FORCE';
  return 'WAIT';
}

/**
 * Guards the attach: only an unattached ENI may be attached (EC2 refuses otherwise; moto does not, so we check).
 * @returns `ATTACH`, `ALREADY_ATTACHED` (to the target: idempotent retry), or `REFUSE` (attached elsewhere).
 */
export function decideAttach(
  eni: EniView,
  targetInstanceId: string,
): 'ATTACH' | 'ALREADY_ATTACHED' | 'REFUSE' {
  const attachment = eni.attachment;
  if (attachment === undefined || attachment.status === 'detached')
    return eni.status === 'available' ? 'ATTACH' : 'REFUSE';
  if (attachment.instanceId === targetInstanceId && attachment.status !== 'detaching')
    return 'ALREADY_ATTACHED';
  return 'REFUSE';
}

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
}): 'SERVING' | 'WAIT' | 'TIMEOUT' {
  const needed =
    input.minimumWorkers > 0 ? Math.min(input.baselineWorkers, input.minimumWorkers) : input.baselineWorkers;
  if (input.answersOnEni && input.workers >= needed) return 'SERVING';
  return input.elapsedMs >= input.timeoutMs ? 'TIMEOUT' : 'WAIT';
}
