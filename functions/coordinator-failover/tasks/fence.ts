/**
 * FenceFailed: stops or terminates the failed coordinator as planned (a drill keeps a healthy one as a standby).
 * Terminated in the coordinator group, the group launches a replacement — unless this execution had scaled the
 * group out for want of a standby, then the group shrinks back by one.
 *
 * @module
 */
import { terminateInstanceInGroup } from '../../../lib/aws/autoscaling.ts';
import { type AwsCall, stopOrTerminateInstance } from '../../../lib/aws/ec2.ts';
import { type FailoverDeps, note } from '../deps.ts';
import type { FailoverState } from '../schemas.ts';

/** @throws AwsThrottledError | AwsError */
export async function runFenceFailed(
  state: FailoverState,
  deps: FailoverDeps,
  call: AwsCall,
): Promise<FailoverState> {
  const now = deps.now();
  const action = state.plan.fence?.instanceAction ?? 'NONE';
  const failed = state.plan.failedInstanceId;
  if (failed === undefined || action === 'NONE') {
    return note({ ...state, fenced: { instanceAction: 'NONE', atMs: now } }, now, 'Failed instance kept');
  }
  const effective = action === 'TERMINATE' && !deps.config.TERMINATE_FAILED ? 'STOP' : action;
  const inGroup = state.plan.fence?.inAutoScalingGroup ?? false;
  const shrink = state.scaledOutTo !== undefined;
  if (effective === 'TERMINATE' && inGroup) {
    await terminateInstanceInGroup(deps.autoscaling, failed, shrink, call);
  } else {
    await stopOrTerminateInstance(
      deps.ec2,
      failed,
      effective,
      { force: state.plan.fence?.forceDetach ?? false },
      call,
    );
  }
  return note(
    { ...state, fenced: { instanceAction: effective, atMs: now } },
    now,
    `${effective === 'STOP' ? 'Stopped' : 'Terminated'} ${failed}${
      effective === 'TERMINATE' && inGroup
        ? shrink
          ? ' (the group shrinks back to its size before the scale-out)'
          : ' (its group launches a replacement standby)'
        : ''
    }`,
  );
}
