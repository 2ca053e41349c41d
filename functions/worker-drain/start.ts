/**
 * startDrain: EventBridge `EC2 Instance-terminate Lifecycle Action` of the worker group → one drain execution per
 * lifecycle action (the execution name is derived from instance + token: a duplicate event starts nothing).
 *
 * @module
 */
import type { AwsCall } from '../../lib/aws/ec2.ts';
import { startExecution } from '../../lib/aws/sfn.ts';
import { ConfigError } from '../../lib/errors.ts';
import { eventHandler } from '../../lib/handler.ts';
import { logger } from '../../lib/logger.ts';
import { type DrainDeps, drainExecutionName, getDefaultDrainDeps, safeRef } from './deps.ts';
import {
  type DrainExecutionInput,
  type LifecycleActionEvent,
  LifecycleActionEventSchema,
} from './schemas.ts';

/**
 * Lifecycle event → `StartExecution` named by {@link drainExecutionName}.
 * @returns `{ started: true, executionArn }`, or `{ started: false, duplicate: true }` for a repeated event.
 * @throws ConfigError without `DRAIN_STATE_MACHINE_ARN`; AwsThrottledError | AwsError when Step Functions fails.
 */
export async function runStartDrain(event: LifecycleActionEvent, deps: DrainDeps, call: AwsCall = {}) {
  const arn = deps.config.DRAIN_STATE_MACHINE_ARN;
  if (arn === undefined)
    throw new ConfigError('Configuration error: DRAIN_STATE_MACHINE_ARN is not set (needed by startDrain)');
  const detail = event.detail;
  const input: DrainExecutionInput = {
    lifecycle: {
      autoScalingGroupName: detail.AutoScalingGroupName,
      lifecycleHookName: detail.LifecycleHookName,
      instanceId: detail.EC2InstanceId,
      lifecycleActionToken: detail.LifecycleActionToken,
    },
    startedAt: event.time,
  };
  const name = drainExecutionName(detail.EC2InstanceId, detail.LifecycleActionToken);
  const started = await startExecution(deps.sfn, { stateMachineArn: arn, name, input }, call);
  if (started.outcome === 'STARTED') {
    logger.info('Drain started', { ...safeRef(input.lifecycle), executionName: name });
    return { started: true, duplicate: false, executionName: name, executionArn: started.executionArn };
  }
  logger.info('Duplicate lifecycle event: drain already running or done', {
    ...safeRef(input.lifecycle),
    executionName: name,
  });
  return { started: false, duplicate: true, executionName: name };
}

/** What a validation error calls the event. */
const SOURCE = 'EC2 Instance-terminate Lifecycle Action event';

/** Builds the handler over the given dependencies. */
export function makeStartDrainHandler(deps: () => DrainDeps = getDefaultDrainDeps) {
  return eventHandler(LifecycleActionEventSchema, SOURCE, deps, runStartDrain);
}

/** Lambda entry point (serverless.yml: `startDrain`). */
export const handler = makeStartDrainHandler();
