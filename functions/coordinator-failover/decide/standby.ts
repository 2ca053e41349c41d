/**
 * Pure decisions of coordinator failover about the standby: which one, how to fence the failed coordinator,
 * and what to do while there is none.
 * No I/O, no clock: observations and time are arguments.
 *
 * @module
 */

/**
 * A member of the coordinator Auto Scaling group as the failover sees it. Standbys are chosen by what is true —
 * in the group and `InService`, running, not holding the ENI, answering as a coordinator — never by a role tag
 * (nothing would keep such a tag true across boots and replacements).
 */
export interface CoordinatorCandidate {
  readonly instanceId: string;
  /** EC2 state name. */
  readonly state: string;
  /** Auto Scaling lifecycle state (`InService`, `Pending`, `Terminating`, `Standby`, …). */
  readonly lifecycleState: string;
  /** `GET /v1/info` on its primary address answered `starting:false` with `coordinator:true`. */
  readonly healthy: boolean;
  /** Launch time, epoch ms (older standbys are warmer: preferred). */
  readonly launchTimeMs: number;
  readonly availabilityZone?: string;
}

/**
 * Chooses the standby to promote: `InService` in the coordinator group, running, not the ENI's holder, healthy on
 * its primary address; same AZ as the ENI (an ENI attaches only in its own AZ), then the longest-running.
 * @param excludeInstanceId - The ENI's current (failed) holder.
 * @returns The chosen instance id, or `undefined` when there is none (raise the alarm, scale out, wait).
 */
export function chooseStandby(
  candidates: readonly CoordinatorCandidate[],
  eniAvailabilityZone: string | undefined,
  excludeInstanceId?: string,
): string | undefined {
  const eligible = candidates.filter(
    (c) =>
      c.instanceId !== excludeInstanceId &&
      c.state === 'running' &&
      c.lifecycleState === 'InService' &&
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
  /** The failed instance is a member of the coordinator group (terminated through the group). */
  readonly inAutoScalingGroup: boolean;
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
  const inAutoScalingGroup = input.inAutoScalingGroup;
  if (input.drill && input.processAnswers && !impaired) {
    return { forceDetach: false, instanceAction: 'NONE', inAutoScalingGroup };
  }
  if (input.instanceState === 'terminated' || input.instanceState === 'shutting-down') {
    return { forceDetach, instanceAction: 'NONE', inAutoScalingGroup };
  }
  return { forceDetach, instanceAction: inAutoScalingGroup ? 'TERMINATE' : 'STOP', inAutoScalingGroup };
}

/** The coordinator Auto Scaling group as observed while no standby exists. */
export interface CoordinatorGroupView {
  readonly desiredCapacity: number;
  readonly maxSize: number;
  /** Instances launching (`Pending*` lifecycle states): a standby is on its way. */
  readonly pendingInstances: number;
  /**
   * InService instances launched less than the boot grace (`STANDBY_BOOT_GRACE_SECONDS`) ago, other than the failed
   * one: their Trino may still be starting (on a new cluster every coordinator boots while the control plane's
   * first failover already looks for a standby), so a standby is on its way too.
   */
  readonly bootingInstances: number;
}

/**
 * Decides what to do when there is no healthy standby.
 * @param waitsSoFar - Completed wait rounds.
 * @param maxWaits - Rounds before giving up (each round is the configured standby wait).
 * @param group - The coordinator group, undefined when none is configured.
 * @returns `scaleOutTo`: a new desired capacity when one more instance is needed (none pending or booting, and
 *   below the maximum); `giveUp` when the rounds are used up.
 */
export function decideNoStandby(
  waitsSoFar: number,
  maxWaits: number,
  group: CoordinatorGroupView | undefined,
): { readonly giveUp: boolean; readonly scaleOutTo?: number } {
  if (waitsSoFar >= maxWaits) return { giveUp: true };
  if (
    group === undefined ||
    group.pendingInstances > 0 ||
    group.bootingInstances > 0 ||
    group.desiredCapacity >= group.maxSize
  ) {
    return { giveUp: false };
  }
  return { giveUp: false, scaleOutTo: group.desiredCapacity + 1 };
}
