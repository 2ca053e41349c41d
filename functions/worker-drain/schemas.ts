/**
 * Event, task-input and configuration schemas of the worker drain.
 *
 * @module
 */
import * as z from 'zod';
import { envBool, envInt } from '../../lib/config.ts';
import { eventBridgeEventSchema } from '../../lib/events.ts';
import { TrinoConnectionEnvSchema } from '../../lib/trino/connect.ts';

const InstanceId = z.string().regex(/^i-[0-9a-f]{8,17}$/, 'must be an EC2 instance id (i-…)');

/**
 * EventBridge event `EC2 Instance-terminate Lifecycle Action` (source `aws.autoscaling`).
 * Source: Amazon EC2 Auto Scaling User Guide, "Auto Scaling events" → lifecycle action event example.
 */
export const LifecycleActionEventSchema = eventBridgeEventSchema(
  'EC2 Instance-terminate Lifecycle Action',
  'aws.autoscaling',
  z.object({
    LifecycleActionToken: z.string().min(1),
    AutoScalingGroupName: z.string().min(1),
    LifecycleHookName: z.string().min(1),
    EC2InstanceId: InstanceId,
    LifecycleTransition: z.literal('autoscaling:EC2_INSTANCE_TERMINATING'),
    NotificationMetadata: z.string().optional(),
  }),
);
/** Parsed lifecycle action event. */
export type LifecycleActionEvent = z.infer<typeof LifecycleActionEventSchema>;

/**
 * EventBridge event `EC2 Spot Instance Interruption Warning` (source `aws.ec2`).
 * Source: Amazon EC2 User Guide, "Spot Instance interruption notices".
 */
export const SpotInterruptionEventSchema = eventBridgeEventSchema(
  'EC2 Spot Instance Interruption Warning',
  'aws.ec2',
  z.object({
    'instance-id': InstanceId,
    'instance-action': z.enum(['terminate', 'stop', 'hibernate']),
  }),
);
/** Parsed Spot interruption warning. */
export type SpotInterruptionEvent = z.infer<typeof SpotInterruptionEventSchema>;

/**
 * Input Auto Scaling sends to a custom termination policy Lambda.
 * Source: Amazon EC2 Auto Scaling User Guide, "Create a custom termination policy with Lambda".
 */
export const TerminationPolicyInputSchema = z.object({
  AutoScalingGroupARN: z.string(),
  AutoScalingGroupName: z.string(),
  CapacityToTerminate: z.array(
    z.object({
      AvailabilityZone: z.string(),
      Capacity: z.number().int(),
      InstanceMarketOption: z.string().optional(),
    }),
  ),
  Instances: z.array(
    z.object({
      AvailabilityZone: z.string(),
      InstanceId: InstanceId,
      InstanceType: z.string().optional(),
      InstanceMarketOption: z.string().optional(),
    }),
  ),
  Cause: z.string(),
  HasMoreInstances: z.boolean().optional(),
});
/** Parsed termination policy input. */
export type TerminationPolicyInput = z.infer<typeof TerminationPolicyInputSchema>;

/** The lifecycle action a drain works for. The token is secret-like: never logged. */
export const LifecycleRefSchema = z.object({
  autoScalingGroupName: z.string().min(1),
  lifecycleHookName: z.string().min(1),
  instanceId: InstanceId,
  lifecycleActionToken: z.string().min(1),
});

/** Input of a drain execution (built by `startDrain`, or by hand for a drill). */
export const DrainExecutionInputSchema = z.object({
  lifecycle: LifecycleRefSchema,
  /** When the lifecycle action started (ISO 8601). */
  startedAt: z.iso.datetime(),
});
/** Parsed drain execution input. */
export type DrainExecutionInput = z.infer<typeof DrainExecutionInputSchema>;

/** What the drain carries between its Task states (`$.drain`). */
export const DrainStateSchema = z.object({
  workerUrl: z.url(),
  requested: z.enum(['DRAINING', 'SHUTTING_DOWN']),
  heartbeatTimeoutMs: z.number().int().positive(),
  schedule: z.object({
    startedAtMs: z.number(),
    deadlineAtMs: z.number(),
    pollIntervalSeconds: z.number().int().positive(),
  }),
  progress: z.object({
    lastHeartbeatAtMs: z.number(),
    heartbeats: z.number().int().nonnegative(),
    consecutiveUnreachable: z.number().int().nonnegative(),
    polls: z.number().int().nonnegative(),
  }),
  done: z.boolean(),
  outcome: z.enum(['WORKER_EXITED', 'WORKER_DRAINED', 'INSTANCE_GONE', 'DEADLINE']).optional(),
  waitSeconds: z.number().int().nonnegative(),
});
/** Parsed drain state. */
export type DrainState = z.infer<typeof DrainStateSchema>;

/**
 * Input of the `DrainFailed` task (every Catch's target but a lost lifecycle action's): the lifecycle action and the
 * error the Catch recorded (`ResultPath: $.error`, `{ Error, Cause }`).
 */
export const DrainFailedInputSchema = z.object({
  failed: z.literal(true),
  lifecycle: LifecycleRefSchema,
  error: z.object({ Error: z.string(), Cause: z.string().optional() }).loose().optional(),
});
/** Parsed {@link DrainFailedInputSchema}. */
export type DrainFailedInput = z.infer<typeof DrainFailedInputSchema>;

/** Input of the `CheckDrain` and `CompleteLifecycleAction` tasks. */
export const DrainTaskInputSchema = DrainExecutionInputSchema.extend({ drain: DrainStateSchema });
/** Parsed task input. */
export type DrainTaskInput = z.infer<typeof DrainTaskInputSchema>;

/**
 * Environment of the drain functions (plus {@link TrinoConnectionEnvSchema} for the coordinator):
 * - `CLUSTER_NAME` (required); `DRAIN_STATE_MACHINE_ARN` (required by `startDrain` only).
 * - `WORKER_URL_TEMPLATE`: how to reach a worker from its instance: `{privateIp}` and `{tag:<Key>}` are
 *   substituted (default `http://{privateIp}:8080`).
 * - `DRAIN_TIMEOUT_SECONDS` (default 21600 = 6 h), `DRAIN_POLL_SECONDS` (default 30),
 *   `HEARTBEAT_MARGIN_SECONDS` (default 30), `UNREACHABLE_CONFIRMATIONS` (default 2),
 *   `PREFER_DRAINING` (default true: reversible `DRAINING` where the release supports it).
 * - `METRICS_NAMESPACE` (default `Trino`); `ALARM_TOPIC_ARN` (SNS): where a drain that failed is reported.
 */
export const DrainEnvSchema = TrinoConnectionEnvSchema.extend({
  CLUSTER_NAME: z.string().min(1),
  DRAIN_STATE_MACHINE_ARN: z.string().startsWith('arn:').optional(),
  WORKER_URL_TEMPLATE: z.string().min(1).default('http://{privateIp}:8080'),
  DRAIN_TIMEOUT_SECONDS: envInt(60, 48 * 3600).default(21_600),
  DRAIN_POLL_SECONDS: envInt(1, 3600).default(30),
  HEARTBEAT_MARGIN_SECONDS: envInt(1, 3600).default(30),
  UNREACHABLE_CONFIRMATIONS: envInt(1, 10).default(2),
  PREFER_DRAINING: envBool.default(true),
  METRICS_NAMESPACE: z.string().min(1).default('Trino'),
  ALARM_TOPIC_ARN: z.string().startsWith('arn:').optional(),
});
/** Parsed {@link DrainEnvSchema}. */
export type DrainConfig = z.infer<typeof DrainEnvSchema>;
