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

/** Steps while waiting for a detach. `MOVED`: the ENI carries another attachment than the plan's (stand down). */
export const DETACH_STEPS = ['DETACHED', 'WAIT', 'FORCE', 'GIVE_UP', 'MOVED'] as const;
/** Next step while waiting for a detach. */
export type DetachStep = (typeof DETACH_STEPS)[number];

/**
 * Decides while waiting for the ENI to detach from the failed instance. Only the planned attachment is ever
 * detached: an ENI attached under another attachment id was moved by someone else (another execution, a drill),
 * so this execution stands down (`MOVED`) instead of ripping it off the coordinator just promoted.
 * @param eni - Current view.
 * @param plannedAttachmentId - The attachment the plan detaches.
 * @param elapsedMs - Since the detach request.
 * @param forced - Whether a forced detach was already sent.
 * @param policy - `forceAfterMs` (escalate a stuck normal detach), `giveUpAfterMs` (fail the execution, alarm).
 */
export function decideDetach(
  eni: EniView,
  plannedAttachmentId: string | undefined,
  elapsedMs: number,
  forced: boolean,
  policy: { readonly forceAfterMs: number; readonly giveUpAfterMs: number },
): DetachStep {
  const attachment = eni.attachment?.status === 'detached' ? undefined : eni.attachment;
  if (eni.status === 'available' && attachment === undefined) return 'DETACHED';
  if (attachment !== undefined && attachment.attachmentId !== plannedAttachmentId) return 'MOVED';
  if (elapsedMs >= policy.giveUpAfterMs) return 'GIVE_UP';
  if (!forced && elapsedMs >= policy.forceAfterMs) return 'FORCE';
  return 'WAIT';
}

/**
 * Guards the attach: only an unattached ENI may be attached (EC2 refuses otherwise; moto does not, so we check).
 * @returns `ATTACH`; `ALREADY_ATTACHED` (to the target: an idempotent retry); `MOVED` (attached to another
 *   instance: another actor moved it, stand down); `REFUSE` (no attachment but not `available`, e.g. still
 *   `detaching`: fail loudly rather than guess).
 */
export function decideAttach(
  eni: EniView,
  targetInstanceId: string,
): 'ATTACH' | 'ALREADY_ATTACHED' | 'MOVED' | 'REFUSE' {
  const attachment = eni.attachment;
  if (attachment === undefined || attachment.status === 'detached')
    return eni.status === 'available' ? 'ATTACH' : 'REFUSE';
  if (attachment.instanceId === targetInstanceId) {
    return attachment.status === 'detaching' ? 'REFUSE' : 'ALREADY_ATTACHED';
  }
  return 'MOVED';
}

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

/** What started the execution. `failover`: the health detector (or an operator) after a confirmed failure. */
export type FailoverMode = 'failover' | 'drill';

/** The active coordinator as observed when planning. */
export interface ActiveObservation {
  readonly instanceId: string;
  /** EC2 state name (`running`, `stopped`, …); `terminated` when EC2 no longer knows it. */
  readonly state: string;
  /** `impaired` when either EC2 status check is impaired. */
  readonly instanceStatus?: string;
  /** `GET /v1/info` on its primary address answered `starting:false`. */
  readonly processAnswers: boolean;
  readonly inAutoScalingGroup: boolean;
}

/** Everything {@link planFailover} needs; gathered by the PlanFailover handler. */
export interface FailoverObservation {
  readonly mode: FailoverMode;
  readonly dryRun: boolean;
  /** Attachment id the trigger saw (the lock's key); undefined for a manual start. */
  readonly expectedAttachmentId?: string;
  readonly eni: EniView & { readonly availabilityZone?: string };
  /** The instance holding the ENI; undefined when the ENI is not attached. */
  readonly active?: ActiveObservation;
  readonly candidates: readonly CoordinatorCandidate[];
}

/**
 * What the execution does next:
 * - `FAILOVER`: move the ENI to `standbyInstanceId`.
 * - `DRY_RUN`: report the plan, change nothing.
 * - `NO_STANDBY`: no healthy standby: alarm, scale the coordinator group out, wait and plan again.
 * - `ALREADY_MOVED`: the ENI is no longer on the attachment the trigger saw: another execution moved it.
 * - `ACTIVE_HEALTHY`: an automatic failover found the active coordinator healthy again: stand down.
 */
export const FAILOVER_ACTIONS = [
  'FAILOVER',
  'DRY_RUN',
  'NO_STANDBY',
  'ALREADY_MOVED',
  'ACTIVE_HEALTHY',
] as const;
/** See {@link FAILOVER_ACTIONS}. */
export type FailoverAction = (typeof FAILOVER_ACTIONS)[number];

/** The plan, as reported by a dry run and followed by a real one. */
export interface FailoverPlan {
  readonly action: FailoverAction;
  /** One sentence for the log and the notification. */
  readonly reason: string;
  readonly failedInstanceId?: string;
  readonly attachmentId?: string;
  readonly standbyInstanceId?: string;
  readonly fence?: FencePlan;
  /** The steps a real run takes, in order, for people (dry-run output). */
  readonly steps: readonly string[];
}

/**
 * Plans a failover (or drill) from observed state. Pure.
 *
 * Stand-down rules come first: an ENI already moved by someone else (`ALREADY_MOVED`) and, for an automatic
 * failover, an active coordinator that answers again on its primary address while its instance is running and
 * not impaired (`ACTIVE_HEALTHY`: the failure cleared between detection and planning). A drill always goes on: it
 * exists to move a healthy coordinator.
 */
export function planFailover(observation: FailoverObservation): FailoverPlan {
  const { eni, active } = observation;
  const attachment = eni.attachment?.status === 'detached' ? undefined : eni.attachment;
  if (
    observation.expectedAttachmentId !== undefined &&
    attachment !== undefined &&
    attachment.attachmentId !== observation.expectedAttachmentId
  ) {
    return {
      action: 'ALREADY_MOVED',
      reason: `The ENI is on attachment ${attachment.attachmentId} (instance ${attachment.instanceId ?? 'unknown'}), not ${observation.expectedAttachmentId}: another execution already moved it`,
      steps: [],
    };
  }
  const activeHealthy =
    active?.processAnswers && active.state === 'running' && active.instanceStatus !== 'impaired';
  if (observation.mode === 'failover' && activeHealthy) {
    return {
      action: 'ACTIVE_HEALTHY',
      reason: `Coordinator ${active.instanceId} answers on its primary address again and its instance is healthy: no failover`,
      failedInstanceId: active.instanceId,
      steps: [],
    };
  }
  const standbyInstanceId = chooseStandby(observation.candidates, eni.availabilityZone, active?.instanceId);
  const fence =
    active === undefined
      ? undefined
      : planFence({
          instanceState: active.state,
          ...(active.instanceStatus === undefined ? {} : { instanceStatus: active.instanceStatus }),
          processAnswers: active.processAnswers,
          inAutoScalingGroup: active.inAutoScalingGroup,
          drill: observation.mode === 'drill',
        });
  const steps = [
    ...(attachment === undefined || active === undefined
      ? ['the ENI is not attached: nothing to detach']
      : [
          `detach the ENI (attachment ${attachment.attachmentId}) from ${active.instanceId}${fence?.forceDetach ? ' with force' : ''}`,
          'wait until EC2 reports the ENI available with no attachment',
        ]),
    ...(active !== undefined && fence !== undefined && fence.instanceAction !== 'NONE'
      ? [`${fence.instanceAction === 'TERMINATE' ? 'terminate' : 'stop'} ${active.instanceId}`]
      : active !== undefined
        ? [`keep ${active.instanceId} running (it becomes a standby)`]
        : []),
    standbyInstanceId === undefined
      ? 'no healthy standby: raise the alarm, scale the coordinator group out, wait for one'
      : `attach the ENI to standby ${standbyInstanceId} and wait for attached`,
    'wait until the coordinator answers on the ENI address and the workers have re-announced',
    'publish FailoverDurationSeconds, notify',
  ];
  const common = {
    ...(active === undefined ? {} : { failedInstanceId: active.instanceId }),
    ...(attachment === undefined ? {} : { attachmentId: attachment.attachmentId }),
    ...(standbyInstanceId === undefined ? {} : { standbyInstanceId }),
    ...(fence === undefined ? {} : { fence }),
    steps,
  };
  if (observation.dryRun) {
    return {
      action: 'DRY_RUN',
      reason:
        standbyInstanceId === undefined
          ? 'Dry run: no healthy standby, a real run would alarm, scale out and wait'
          : `Dry run: a real run would move the coordinator ENI to ${standbyInstanceId}`,
      ...common,
    };
  }
  if (standbyInstanceId === undefined) {
    return {
      action: 'NO_STANDBY',
      reason: 'No running, healthy standby coordinator of this cluster',
      ...common,
    };
  }
  return {
    action: 'FAILOVER',
    reason: `Moving the coordinator ENI to standby ${standbyInstanceId}`,
    ...common,
  };
}

/** Steps while waiting for the attach. `MOVED`: the ENI went to another instance (another actor won; stand down). */
export const ATTACH_STEPS = ['ATTACHED', 'WAIT', 'MOVED', 'TIMEOUT'] as const;
/** Next step while waiting for the ENI to be attached to the standby. */
export type AttachStep = (typeof ATTACH_STEPS)[number];

/**
 * Decides while waiting for the attach to complete.
 * @returns `ATTACHED` (attachment to the target `attached`), `MOVED` (attached to another instance: someone else
 *   won; stand down), `TIMEOUT` after `timeoutMs`, else `WAIT`.
 */
export function decideAttachWait(
  eni: EniView,
  targetInstanceId: string,
  elapsedMs: number,
  timeoutMs: number,
): AttachStep {
  const attachment = eni.attachment;
  if (attachment?.instanceId === targetInstanceId && attachment.status === 'attached') return 'ATTACHED';
  if (attachment?.instanceId !== undefined && attachment.instanceId !== targetInstanceId) return 'MOVED';
  return elapsedMs >= timeoutMs ? 'TIMEOUT' : 'WAIT';
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
