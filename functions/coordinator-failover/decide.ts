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
  readonly clusterName: string;
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
export type FailoverAction = 'FAILOVER' | 'DRY_RUN' | 'NO_STANDBY' | 'ALREADY_MOVED' | 'ACTIVE_HEALTHY';

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
  const standbyInstanceId = chooseStandby(
    observation.candidates,
    observation.clusterName,
    eni.availabilityZone,
    active?.instanceId,
  );
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
    'swap the role tags, publish FailoverDurationSeconds, notify',
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

/** Next step while waiting for the ENI to be attached to the standby. */
export type AttachStep = 'ATTACHED' | 'WAIT' | 'LOST' | 'TIMEOUT';

/**
 * Decides while waiting for the attach to complete.
 * @returns `ATTACHED` (attachment to the target `attached`), `LOST` (attached to another instance: someone else
 *   won; fail loudly), `TIMEOUT` after `timeoutMs`, else `WAIT`.
 */
export function decideAttachWait(
  eni: EniView,
  targetInstanceId: string,
  elapsedMs: number,
  timeoutMs: number,
): AttachStep {
  const attachment = eni.attachment;
  if (attachment?.instanceId === targetInstanceId && attachment.status === 'attached') return 'ATTACHED';
  if (attachment?.instanceId !== undefined && attachment.instanceId !== targetInstanceId) return 'LOST';
  return elapsedMs >= timeoutMs ? 'TIMEOUT' : 'WAIT';
}

/** The coordinator Auto Scaling group as observed while no standby exists. */
export interface CoordinatorGroupView {
  readonly desiredCapacity: number;
  readonly maxSize: number;
  /** Instances launching (`Pending*` lifecycle states): a standby is on its way. */
  readonly pendingInstances: number;
}

/**
 * Decides what to do when there is no healthy standby.
 * @param waitsSoFar - Completed wait rounds.
 * @param maxWaits - Rounds before giving up (each round is the configured standby wait).
 * @param group - The coordinator group, undefined when none is configured.
 * @returns `scaleOutTo`: a new desired capacity when one more instance is needed (none pending and below the
 *   maximum); `giveUp` when the rounds are used up.
 */
export function decideNoStandby(
  waitsSoFar: number,
  maxWaits: number,
  group: CoordinatorGroupView | undefined,
): { readonly giveUp: boolean; readonly scaleOutTo?: number } {
  if (waitsSoFar >= maxWaits) return { giveUp: true };
  if (group === undefined || group.pendingInstances > 0 || group.desiredCapacity >= group.maxSize) {
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
