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
import { AwsError, AwsThrottledError, AwsTransientError, LifecycleActionGoneError } from '../errors.ts';
import { isThrottling, isTransient, sdkErrorMessage, sdkErrorName, toAwsError } from './sdk-errors.ts';
import { type AwsCall, type AwsRequest, sendAws } from './send.ts';

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

/** The lifecycle action's fields as the Auto Scaling API names them. */
function lifecycleActionOf(ref: LifecycleActionRef) {
  return {
    AutoScalingGroupName: ref.autoScalingGroupName,
    LifecycleHookName: ref.lifecycleHookName,
    InstanceId: ref.instanceId,
    LifecycleActionToken: ref.lifecycleActionToken,
  };
}

/** A lifecycle action command: its failures translated by {@link translate} (the token never in the error). */
function lifecycleRequest(operation: string, ref: LifecycleActionRef): AwsRequest<never> {
  return { operation, translate: (cause) => translate(operation, ref, cause) };
}

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
  const ErrorClass = isTransient(cause) ? AwsTransientError : AwsError;
  return new ErrorClass(`Auto Scaling ${operation} failed for ${ref.instanceId} (${context.sdkError})`, {
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
  const heartbeat = new RecordLifecycleActionHeartbeatCommand(lifecycleActionOf(ref));
  await sendAws(
    lifecycleRequest('RecordLifecycleActionHeartbeat', ref),
    (options) => client.send(heartbeat, options),
    call,
  );
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
  const complete = new CompleteLifecycleActionCommand({
    ...lifecycleActionOf(ref),
    LifecycleActionResult: result,
  });
  await sendAws(
    lifecycleRequest('CompleteLifecycleAction', ref),
    (options) => client.send(complete, options),
    call,
  );
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
  const out = await sendAws(
    { operation: 'Auto Scaling DescribeAutoScalingInstances', context: { instanceId } },
    (options) => client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }), options),
    call,
  );
  const found = out.AutoScalingInstances?.find((i) => i.InstanceId === instanceId);
  return found?.AutoScalingGroupName && found.LifecycleState
    ? { autoScalingGroupName: found.AutoScalingGroupName, lifecycleState: found.LifecycleState }
    : undefined;
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
  const operation = 'Auto Scaling DescribeLifecycleHooks';
  const context = { autoScalingGroupName, lifecycleHookName };
  const describe = new DescribeLifecycleHooksCommand({
    AutoScalingGroupName: autoScalingGroupName,
    LifecycleHookNames: [lifecycleHookName],
  });
  const out = await sendAws(
    {
      operation,
      translate: (cause) =>
        sdkErrorName(cause) === 'ValidationError'
          ? new LifecycleActionGoneError(`Auto Scaling group ${autoScalingGroupName} no longer exists`, {
              cause,
              context,
            })
          : toAwsError(operation, cause, context),
    },
    (options) => client.send(describe, options),
    call,
  );
  const timeoutSeconds = out.LifecycleHooks?.find(
    (h) => h.LifecycleHookName === lifecycleHookName,
  )?.HeartbeatTimeout;
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
  const describe = new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [autoScalingGroupName] });
  const out = await sendAws(
    { operation: 'Auto Scaling DescribeAutoScalingGroups', context: { autoScalingGroupName } },
    (options) => client.send(describe, options),
    call,
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
  const set = new SetDesiredCapacityCommand({
    AutoScalingGroupName: autoScalingGroupName,
    DesiredCapacity: desiredCapacity,
    HonorCooldown: false,
  });
  await sendAws(
    { operation: 'Auto Scaling SetDesiredCapacity', context: { autoScalingGroupName, desiredCapacity } },
    (options) => client.send(set, options),
    call,
  );
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
  const terminate = new TerminateInstanceInAutoScalingGroupCommand({
    InstanceId: instanceId,
    ShouldDecrementDesiredCapacity: decrementDesiredCapacity,
  });
  await sendAws(
    {
      operation: 'Auto Scaling TerminateInstanceInAutoScalingGroup',
      context: { instanceId },
      // No longer in any group: done.
      answer: {
        when: (cause) =>
          sdkErrorName(cause) === 'ValidationError' && /not found|no instance/i.test(sdkErrorMessage(cause)),
        value: () => undefined,
      },
    },
    (options) => client.send(terminate, options),
    call,
  );
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
  const unhealthy = new SetInstanceHealthCommand({
    InstanceId: instanceId,
    HealthStatus: 'Unhealthy',
    ShouldRespectGracePeriod: respectGracePeriod,
  });
  await sendAws(
    { operation: 'Auto Scaling SetInstanceHealth', context: { instanceId } },
    (options) => client.send(unhealthy, options),
    call,
  );
}
