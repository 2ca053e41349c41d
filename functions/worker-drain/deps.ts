/**
 * Dependencies of the drain functions, built once per container, and helpers they share.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import type { LifecycleActionRef } from '../../lib/aws/autoscaling.ts';
import { publishMetrics } from '../../lib/aws/cloudwatch.ts';
import type { AwsCall } from '../../lib/aws/ec2.ts';
import { LifecycleActionGoneError } from '../../lib/errors.ts';
import { logger } from '../../lib/logger.ts';
import type { Metric } from '../../lib/metrics.ts';
import { type CoordinatorDeps, coordinatorDeps } from '../../lib/trino/connect.ts';
import type { DrainPolicy } from './decide.ts';
import { type DrainConfig, DrainEnvSchema, type DrainExecutionInput } from './schemas.ts';

/** The AWS SDK clients of the drain functions (dependency name → client class). */
const AWS = {
  autoscaling: AutoScalingClient,
  ec2: EC2Client,
  sfn: SFNClient,
  cloudwatch: CloudWatchClient,
  sns: SNSClient,
};

/** Everything the drain handlers need from outside; injectable for tests. */
export type DrainDeps = CoordinatorDeps<DrainConfig, typeof AWS>;

/** Default dependencies, built once per container. */
export const getDefaultDrainDeps: () => DrainDeps = coordinatorDeps(DrainEnvSchema, AWS);

/** Policy of the drain decisions from configuration and the hook's real HeartbeatTimeout (ms). */
export function drainPolicy(config: DrainConfig, heartbeatTimeoutMs: number): DrainPolicy {
  return {
    drainTimeoutMs: config.DRAIN_TIMEOUT_SECONDS * 1_000,
    heartbeatTimeoutMs,
    pollIntervalMs: config.DRAIN_POLL_SECONDS * 1_000,
    heartbeatMarginMs: config.HEARTBEAT_MARGIN_SECONDS * 1_000,
    unreachableConfirmations: config.UNREACHABLE_CONFIRMATIONS,
  };
}

/**
 * Execution name for one lifecycle action: instance id + a hash of the token (the token itself never appears).
 * Step Functions refuses a second execution of the same name, so a duplicate event cannot start a second drain.
 */
export function drainExecutionName(instanceId: string, lifecycleActionToken: string): string {
  return `drain-${instanceId}-${createHash('sha256').update(lifecycleActionToken).digest('hex').slice(0, 24)}`;
}

/** The loggable part of a lifecycle action reference (never the token). */
export function safeRef(ref: LifecycleActionRef) {
  return {
    instanceId: ref.instanceId,
    autoScalingGroupName: ref.autoScalingGroupName,
    lifecycleHookName: ref.lifecycleHookName,
  };
}

/** Publishes drain metrics; a failed publish is logged, never fatal. */
export function publishDrainMetrics(deps: DrainDeps, metrics: Metric[], call: AwsCall): Promise<void> {
  return publishMetrics(
    deps.cloudwatch,
    metrics,
    {
      namespace: deps.config.METRICS_NAMESPACE,
      clusterName: deps.config.CLUSTER_NAME,
      timestamp: new Date(deps.now()),
    },
    call,
  ).then(
    () => undefined,
    (error: unknown) => logger.warn('Could not publish drain metrics', { error: String(error) }),
  );
}

/** Runs a task; a lifecycle action found gone is counted (`DrainLifecycleLost`) before the error ends the drain. */
export async function countingLost<T>(
  deps: DrainDeps,
  ref: DrainExecutionInput['lifecycle'],
  call: AwsCall,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof LifecycleActionGoneError) {
      logger.error('Lifecycle action lost: the drain ends without completing it', {
        ...safeRef(ref),
        error: error.message,
      });
      await publishDrainMetrics(deps, [{ name: 'DrainLifecycleLost', unit: 'Count', value: 1 }], call);
    }
    throw error;
  }
}
