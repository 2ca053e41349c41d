/**
 * Dependencies of the failover tasks, built once per container, and the helpers every task shares (timeline,
 * notification).
 *
 * @module
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import type { AwsCall } from '../../lib/aws/ec2.ts';
import { notifyAlarmTopic, publishNotification } from '../../lib/aws/sns.ts';
import { logger } from '../../lib/logger.ts';
import { type CoordinatorDeps, coordinatorDeps } from '../../lib/trino/connect.ts';
import { type ExecutionRef, type FailoverConfig, FailoverEnvSchema, type FailoverState } from './schemas.ts';

/** The AWS SDK clients of the failover tasks (dependency name → client class). */
const AWS = {
  ec2: EC2Client,
  autoscaling: AutoScalingClient,
  cloudwatch: CloudWatchClient,
  sns: SNSClient,
  sfn: SFNClient,
};

/** Dependencies; injectable for tests (`coordinator`: through the ENI address, with the cluster's credentials). */
export type FailoverDeps = CoordinatorDeps<FailoverConfig, typeof AWS>;

/** Default dependencies, built once per container. */
export const getDefaultFailoverDeps: () => FailoverDeps = coordinatorDeps(FailoverEnvSchema, AWS);

/** What a task gets besides its state and dependencies: the abort signal, and the execution it runs in. */
export interface TaskCall extends AwsCall {
  /** From the context object, on the Task states that take or check the lock (PlanFailover, NotifyFailure). */
  readonly execution?: ExecutionRef;
}

/** Appends a timeline entry (and logs it). */
export function note(state: FailoverState, atMs: number, event: string): FailoverState {
  logger.info(event, { cluster: state.cluster, mode: state.mode, dryRun: state.dryRun });
  return { ...state, timeline: [...state.timeline, { atMs, event }] };
}

/**
 * Notifies the alarm topic (when configured) and throws when the publish fails: for NotifyFailure, whose
 * notification is the reason it exists (Step Functions retries it on AwsThrottledError/AwsTransientError; any
 * other failure fails the execution, which the FailoverFailed alarm reports through CloudWatch's own grant).
 * @throws AwsThrottledError | AwsTransientError | AwsError
 */
export async function notifyOrThrow(
  deps: FailoverDeps,
  subject: string,
  message: unknown,
  call: AwsCall,
): Promise<boolean> {
  if (deps.config.ALARM_TOPIC_ARN === undefined) return false;
  await publishNotification(deps.sns, deps.config.ALARM_TOPIC_ARN, subject, message, call);
  return true;
}

/** Notifies the alarm topic (when configured); a failed publish is logged, never fatal ({@link notifyAlarmTopic}). */
export function notify(deps: FailoverDeps, subject: string, message: unknown, call: AwsCall): Promise<void> {
  return notifyAlarmTopic(deps.sns, deps.config.ALARM_TOPIC_ARN, subject, message, call);
}
