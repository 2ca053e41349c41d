/**
 * Dependencies of the failover tasks, built once per container, and the helpers every task shares (timeline,
 * notification).
 *
 * @module
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SNSClient } from '@aws-sdk/client-sns';
import type { AwsCall } from '../../lib/aws/ec2.ts';
import { notifyAlarmTopic } from '../../lib/aws/sns.ts';
import { type ContainerDeps, containerDeps, sdkClients } from '../../lib/deps.ts';
import { logger } from '../../lib/logger.ts';
import type { TrinoClient } from '../../lib/trino/client.ts';
import { lazyTrinoClient } from '../../lib/trino/connect.ts';
import { type FailoverConfig, FailoverEnvSchema, type FailoverState } from './schemas.ts';

/** Dependencies; injectable for tests. */
export interface FailoverDeps extends ContainerDeps<FailoverConfig> {
  readonly ec2: EC2Client;
  readonly autoscaling: AutoScalingClient;
  readonly cloudwatch: CloudWatchClient;
  readonly sns: SNSClient;
  /** Client of the coordinator through the ENI address (`TRINO_URL`), with the cluster's credentials. */
  readonly coordinator: () => Promise<TrinoClient>;
}

/** Default dependencies, built once per container. */
export const getDefaultFailoverDeps: () => FailoverDeps = containerDeps(FailoverEnvSchema, (config) => ({
  ...sdkClients({
    ec2: EC2Client,
    autoscaling: AutoScalingClient,
    cloudwatch: CloudWatchClient,
    sns: SNSClient,
  }),
  coordinator: lazyTrinoClient(config),
}));

/** Appends a timeline entry (and logs it). */
export function note(state: FailoverState, atMs: number, event: string): FailoverState {
  logger.info(event, { cluster: state.cluster, mode: state.mode, dryRun: state.dryRun });
  return { ...state, timeline: [...state.timeline, { atMs, event }] };
}

/** Notifies the alarm topic (when configured); a failed publish is logged, never fatal ({@link notifyAlarmTopic}). */
export function notify(deps: FailoverDeps, subject: string, message: unknown, call: AwsCall): Promise<void> {
  return notifyAlarmTopic(deps.sns, deps.config.ALARM_TOPIC_ARN, subject, message, call);
}
