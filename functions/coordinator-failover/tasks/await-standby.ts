/**
 * AwaitStandby: no healthy standby. Alarms once, scales the coordinator group out by one when nothing is launching
 * or booting (an InService instance launched within `STANDBY_BOOT_GRACE_SECONDS`; the group's MaxSize leaves room
 * for one more), and counts the wait; `giveUp` after `STANDBY_MAX_WAITS` rounds.
 *
 * @module
 */
import { describeGroup, setDesiredCapacity } from '../../../lib/aws/autoscaling.ts';
import { type AwsCall, describeInstances } from '../../../lib/aws/ec2.ts';
import { decideNoStandby } from '../decide.ts';
import { type FailoverDeps, note, notify } from '../deps.ts';
import type { FailoverState } from '../schemas.ts';

/** @throws AwsThrottledError | AwsError */
export async function runAwaitStandby(
  state: FailoverState,
  deps: FailoverDeps,
  call: AwsCall,
): Promise<FailoverState> {
  const { config } = deps;
  const group = await describeGroup(deps.autoscaling, config.COORDINATOR_ASG_NAME, call);
  const failed = state.plan.action === 'NO_STANDBY' ? state.plan.failedInstanceId : undefined;
  const inService = (group?.instances ?? [])
    .filter((i) => i.lifecycleState === 'InService' && i.instanceId !== failed)
    .map((i) => i.instanceId);
  const { instances } = await describeInstances(deps.ec2, inService, call);
  const now = deps.now();
  const booting = [...instances.values()].filter(
    (i) => i.state === 'running' && now - i.launchTimeMs < config.STANDBY_BOOT_GRACE_SECONDS * 1_000,
  ).length;
  const decision = decideNoStandby(
    state.standbyWaits,
    config.STANDBY_MAX_WAITS,
    group === undefined
      ? undefined
      : {
          desiredCapacity: group.desiredCapacity,
          maxSize: group.maxSize,
          pendingInstances: group.instances.filter((i) => i.lifecycleState.startsWith('Pending')).length,
          bootingInstances: booting,
        },
  );
  if (decision.scaleOutTo !== undefined) {
    await setDesiredCapacity(deps.autoscaling, config.COORDINATOR_ASG_NAME, decision.scaleOutTo, call);
  }
  if (state.standbyWaits === 0) {
    await notify(
      deps,
      `No standby coordinator for ${state.cluster}`,
      { cluster: state.cluster, reason: state.plan.reason, scaledOutTo: decision.scaleOutTo },
      call,
    );
  }
  return note(
    {
      ...state,
      standbyWaits: state.standbyWaits + 1,
      giveUp: decision.giveUp,
      ...(decision.scaleOutTo === undefined ? {} : { scaledOutTo: decision.scaleOutTo }),
    },
    deps.now(),
    decision.giveUp
      ? `No standby after ${state.standbyWaits} waits: giving up`
      : `No standby: waiting ${state.standbyWaitSeconds} s${decision.scaleOutTo === undefined ? '' : ` (coordinator group scaled out to ${decision.scaleOutTo})`}`,
  );
}
