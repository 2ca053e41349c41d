/**
 * Auto Scaling adapter for lifecycle hooks: heartbeats and completion, with AWS errors translated into our
 * contract. Lifecycle action tokens are passed through but never logged nor put into error messages/context.
 * Source: Amazon EC2 Auto Scaling API reference, RecordLifecycleActionHeartbeat and CompleteLifecycleAction.
 *
 * @module
 */
import {
  type AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import { AwsError, AwsThrottledError, LifecycleActionGoneError } from '../errors.ts';
import { isThrottling, sdkErrorMessage, sdkErrorName } from './sdk-errors.ts';

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
): Promise<void> {
  try {
    await client.send(
      new RecordLifecycleActionHeartbeatCommand({
        AutoScalingGroupName: ref.autoScalingGroupName,
        LifecycleHookName: ref.lifecycleHookName,
        InstanceId: ref.instanceId,
        LifecycleActionToken: ref.lifecycleActionToken,
      }),
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
): Promise<{ autoScalingGroupName: string; lifecycleState: string } | undefined> {
  try {
    const out = await client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }));
    const found = out.AutoScalingInstances?.find((i) => i.InstanceId === instanceId);
    return found?.AutoScalingGroupName && found.LifecycleState
      ? { autoScalingGroupName: found.AutoScalingGroupName, lifecycleState: found.LifecycleState }
      : undefined;
  } catch (cause) {
    const ErrorClass = isThrottling(cause) ? AwsThrottledError : AwsError;
    throw new ErrorClass(`Auto Scaling DescribeAutoScalingInstances failed for ${instanceId}`, {
      cause,
      context: { instanceId, sdkError: sdkErrorName(cause) },
    });
  }
}
