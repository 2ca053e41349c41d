/**
 * Auto Scaling adapter: lifecycle actions (heartbeat, completion, the hook's timeout), groups (members, capacity,
 * instance health) and terminating an instance in its group. Every Auto Scaling command the control plane sends
 * is here, with AWS errors translated into our contract. Lifecycle action tokens are passed through but never
 * logged nor put into error messages/context.
 * Source: Amazon EC2 Auto Scaling API reference — RecordLifecycleActionHeartbeat, CompleteLifecycleAction,
 * DescribeLifecycleHooks, DescribeAutoScalingGroups, DescribeAutoScalingInstances, SetDesiredCapacity,
 * SetInstanceHealth, TerminateInstanceInAutoScalingGroup.
 *
 * @module
 */
import {
  type AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  RecordLifecycleActionHeartbeatCommand,
  SetDesiredCapacityCommand,
  SetInstanceHealthCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { AwsError, AwsThrottledError, LifecycleActionGoneError } from '../errors.ts';
import type { AwsCall } from './ec2.ts';
import { isThrottling, sdkErrorMessage, sdkErrorName, toAwsError } from './sdk-errors.ts';

/** Identifies one lifecycle action. */
export interface LifecycleActionRef {
  readonly autoScalingGroupName: string;
  readonly lifecycleHookName: string;
  readonly instanceId: string;
  /** Secret-like: never logged. */
  readonly lifecycleActionToken: string;
}

/** `CONTINUE` lets the termination proceed; `ABANDON` also terminates (for terminating hooks) but marks it abandoned. */
export type LifecycleActionResult = 'CONTINUE' | 'ABANDON';

function translate(operation: string, ref: LifecycleActionRef, cause: unknown): AwsError {
  const context = {
    operation,
    autoScalingGroupName: ref.autoScalingGroupName,
    lifecycleHookName: ref.lifecycleHookName,
    instanceId: ref.instanceId,
    sdkError: sdkErrorName(cause),
    // AWS echoes the token in some messages: strip it.
    sdkMessage: sdkErrorMessage(cause).replaceAll(ref.lifecycleActionToken, '<token>'),
  };
  if (isThrottling(cause)) {
    return new AwsThrottledError(`Auto Scaling ${operation} throttled for ${ref.instanceId}`, {
      cause,
      context,
    });
  }
  if (sdkErrorName(cause) === 'ValidationError') {
    return new LifecycleActionGoneError(
      `Auto Scaling ${operation}: no active lifecycle action for ${ref.instanceId} in ${ref.autoScalingGroupName}/${ref.lifecycleHookName} (token used or expired, hook/group deleted, or instance gone)`,
      { cause, context },
    );
  }
  return new AwsError(`Auto Scaling ${operation} failed for ${ref.instanceId} (${context.sdkError})`, {
    cause,
    context,
  });
}

/**
 * `RecordLifecycleActionHeartbeat`: restarts the hook's heartbeat timeout.
 * @throws LifecycleActionGoneError | AwsThrottledError | AwsError
 */
export async function recordLifecycleActionHeartbeat(
  client: AutoScalingClient,
  ref: LifecycleActionRef,
  call: AwsCall = {},
): Promise<void> {
  try {
    await client.send(
      new RecordLifecycleActionHeartbeatCommand({
        AutoScalingGroupName: ref.autoScalingGroupName,
        LifecycleHookName: ref.lifecycleHookName,
        InstanceId: ref.instanceId,
        LifecycleActionToken: ref.lifecycleActionToken,
      }),
      { abortSignal: call.signal },
    );
  } catch (cause) {
    throw translate('RecordLifecycleActionHeartbeat', ref, cause);
  }
}

/**
 * `CompleteLifecycleAction` with the given result.
 * @throws LifecycleActionGoneError | AwsThrottledError | AwsError
 */
export async function completeLifecycleAction(
  client: AutoScalingClient,
  ref: LifecycleActionRef,
  result: LifecycleActionResult,
  call: AwsCall = {},
): Promise<void> {
  try {
    await client.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: ref.autoScalingGroupName,
        LifecycleHookName: ref.lifecycleHookName,
        InstanceId: ref.instanceId,
        LifecycleActionToken: ref.lifecycleActionToken,
        LifecycleActionResult: result,
      }),
      { abortSignal: call.signal },
    );
  } catch (cause) {
    throw translate('CompleteLifecycleAction', ref, cause);
  }
}

/**
 * The Auto Scaling group and lifecycle state of an instance (`DescribeAutoScalingInstances`).
 * @returns `undefined` when the instance is not in any group (gone).
 * @throws AwsThrottledError | AwsError
 */
export async function describeAutoScalingInstance(
  client: AutoScalingClient,
  instanceId: string,
  call: AwsCall = {},
): Promise<{ autoScalingGroupName: string; lifecycleState: string } | undefined> {
  try {
    const out = await client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }), {
      abortSignal: call.signal,
    });
    const found = out.AutoScalingInstances?.find((i) => i.InstanceId === instanceId);
    return found?.AutoScalingGroupName && found.LifecycleState
      ? { autoScalingGroupName: found.AutoScalingGroupName, lifecycleState: found.LifecycleState }
      : undefined;
  } catch (cause) {
    throw toAwsError('Auto Scaling DescribeAutoScalingInstances', cause, { instanceId });
  }
}

/**
 * The hook's `HeartbeatTimeout`, in ms (`DescribeLifecycleHooks`).
 * @throws LifecycleActionGoneError when the hook (or its group) no longer exists; AwsThrottledError | AwsError.
 */
export async function lifecycleHookHeartbeatTimeoutMs(
  client: AutoScalingClient,
  autoScalingGroupName: string,
  lifecycleHookName: string,
  call: AwsCall = {},
): Promise<number> {
  let timeoutSeconds: number | undefined;
  try {
    const out = await client.send(
      new DescribeLifecycleHooksCommand({
        AutoScalingGroupName: autoScalingGroupName,
        LifecycleHookNames: [lifecycleHookName],
      }),
      { abortSignal: call.signal },
    );
    timeoutSeconds = out.LifecycleHooks?.find(
      (h) => h.LifecycleHookName === lifecycleHookName,
    )?.HeartbeatTimeout;
  } catch (cause) {
    if (sdkErrorName(cause) === 'ValidationError') {
      throw new LifecycleActionGoneError(`Auto Scaling group ${autoScalingGroupName} no longer exists`, {
        cause,
        context: { autoScalingGroupName, lifecycleHookName },
      });
    }
    throw toAwsError('Auto Scaling DescribeLifecycleHooks', cause, {
      autoScalingGroupName,
      lifecycleHookName,
    });
  }
  if (timeoutSeconds === undefined) {
    throw new LifecycleActionGoneError(`Lifecycle hook ${lifecycleHookName} no longer exists`, {
      context: { autoScalingGroupName, lifecycleHookName },
    });
  }
  return timeoutSeconds * 1_000;
}

/** An Auto Scaling group as the control plane reads it. */
export interface GroupView {
  readonly autoScalingGroupName: string;
  readonly desiredCapacity: number;
  readonly minSize: number;
  readonly maxSize: number;
  readonly instances: readonly {
    readonly instanceId: string;
    /** `Pending`, `InService`, `Terminating:Wait`, `Standby`, … (Auto Scaling's LifecycleState). */
    readonly lifecycleState: string;
    /** `Healthy` | `Unhealthy`. */
    readonly healthStatus: string;
    readonly availabilityZone?: string;
  }[];
}

/**
 * `DescribeAutoScalingGroups` for one group.
 * @returns The group, or `undefined` when it does not exist.
 * @throws AwsThrottledError | AwsError
 */
export async function describeGroup(
  client: AutoScalingClient,
  autoScalingGroupName: string,
  call: AwsCall = {},
): Promise<GroupView | undefined> {
  try {
    const out = await client.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [autoScalingGroupName] }),
      { abortSignal: call.signal },
    );
    const g = out.AutoScalingGroups?.find((x) => x.AutoScalingGroupName === autoScalingGroupName);
    if (g === undefined) return undefined;
    return {
      autoScalingGroupName,
      desiredCapacity: g.DesiredCapacity ?? 0,
      minSize: g.MinSize ?? 0,
      maxSize: g.MaxSize ?? 0,
      instances: (g.Instances ?? []).flatMap((i) =>
        i.InstanceId === undefined
          ? []
          : [
              {
                instanceId: i.InstanceId,
                lifecycleState: i.LifecycleState ?? 'unknown',
                healthStatus: i.HealthStatus ?? 'unknown',
                ...(i.AvailabilityZone ? { availabilityZone: i.AvailabilityZone } : {}),
              },
            ],
      ),
    };
  } catch (cause) {
    throw toAwsError('Auto Scaling DescribeAutoScalingGroups', cause, { autoScalingGroupName });
  }
}

/**
 * `SetDesiredCapacity` (cooldown not honoured: the control plane decides when).
 * @throws AwsThrottledError | AwsError
 */
export async function setDesiredCapacity(
  client: AutoScalingClient,
  autoScalingGroupName: string,
  desiredCapacity: number,
  call: AwsCall = {},
): Promise<void> {
  try {
    await client.send(
      new SetDesiredCapacityCommand({
        AutoScalingGroupName: autoScalingGroupName,
        DesiredCapacity: desiredCapacity,
        HonorCooldown: false,
      }),
      { abortSignal: call.signal },
    );
  } catch (cause) {
    throw toAwsError('Auto Scaling SetDesiredCapacity', cause, { autoScalingGroupName, desiredCapacity });
  }
}

/**
 * `TerminateInstanceInAutoScalingGroup`. An instance no longer in any group counts as done.
 * @param decrementDesiredCapacity - `false`: the group launches a replacement; `true`: it shrinks by one.
 * @throws AwsThrottledError | AwsError
 */
export async function terminateInstanceInGroup(
  client: AutoScalingClient,
  instanceId: string,
  decrementDesiredCapacity: boolean,
  call: AwsCall = {},
): Promise<void> {
  try {
    await client.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: instanceId,
        ShouldDecrementDesiredCapacity: decrementDesiredCapacity,
      }),
      { abortSignal: call.signal },
    );
  } catch (cause) {
    if (sdkErrorName(cause) === 'ValidationError' && /not found|no instance/i.test(sdkErrorMessage(cause)))
      return;
    throw toAwsError('Auto Scaling TerminateInstanceInAutoScalingGroup', cause, { instanceId });
  }
}

/**
 * `SetInstanceHealth Unhealthy`: the group replaces the instance (through its lifecycle hooks).
 * @param respectGracePeriod - Leave an instance alone during the group's health-check grace period.
 * @throws AwsThrottledError | AwsError
 */
export async function markInstanceUnhealthy(
  client: AutoScalingClient,
  instanceId: string,
  respectGracePeriod: boolean,
  call: AwsCall = {},
): Promise<void> {
  try {
    await client.send(
      new SetInstanceHealthCommand({
        InstanceId: instanceId,
        HealthStatus: 'Unhealthy',
        ShouldRespectGracePeriod: respectGracePeriod,
      }),
      { abortSignal: call.signal },
    );
  } catch (cause) {
    throw toAwsError('Auto Scaling SetInstanceHealth', cause, { instanceId });
  }
}
