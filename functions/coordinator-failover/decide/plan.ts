/**
 * The pure plan of a coordinator failover (or drill): what to do, from what was observed when planning.
 * No I/O, no clock: observations and time are arguments.
 *
 * @module
 */

import type { LockDecision } from '../../../lib/failover-lock.ts';
import type { EniView } from './eni.ts';
import { type CoordinatorCandidate, chooseStandby, type FencePlan, planFence } from './standby.ts';

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
  /** The failover lock (lib/failover-lock.ts), taken by every execution that is not a dry run. */
  readonly lock?: LockDecision;
}

/**
 * What the execution does next:
 * - `FAILOVER`: move the ENI to `standbyInstanceId`.
 * - `DRY_RUN`: report the plan, change nothing.
 * - `NO_STANDBY`: no healthy standby: alarm, scale the coordinator group out, wait and plan again.
 * - `ALREADY_MOVED`: the ENI is no longer on the attachment the trigger saw: another execution moved it.
 * - `ACTIVE_HEALTHY`: an automatic failover found the active coordinator healthy again: stand down.
 * - `LOCKED`: another failover execution of this cluster started earlier and still runs: stand down.
 */
export const FAILOVER_ACTIONS = [
  'FAILOVER',
  'DRY_RUN',
  'NO_STANDBY',
  'ALREADY_MOVED',
  'ACTIVE_HEALTHY',
  'LOCKED',
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
 * Stand-down rules come first: another execution holding the lock (`LOCKED`; a dry run takes no lock), an ENI
 * already moved by someone else (`ALREADY_MOVED`) and, for an automatic
 * failover, an active coordinator that answers again on its primary address while its instance is running and
 * not impaired (`ACTIVE_HEALTHY`: the failure cleared between detection and planning). A drill always goes on: it
 * exists to move a healthy coordinator.
 */
export function planFailover(observation: FailoverObservation): FailoverPlan {
  const { eni, active, lock } = observation;
  if (!observation.dryRun && lock !== undefined && !lock.holds) {
    return { action: 'LOCKED', reason: lock.reason, steps: [] };
  }
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
