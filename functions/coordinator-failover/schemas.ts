/**
 * Configuration and task-input schemas of the coordinator failover state machine
 * (statemachines/coordinator-failover.asl.json). Every Task receives the execution's state object and returns it
 * updated; each handler parses it with {@link FailoverStateSchema} (never casts).
 *
 * @module
 */
import * as z from 'zod';
import { envBool, envInt } from '../../lib/config.ts';
import { TrinoConnectionEnvSchema } from '../../lib/trino/connect.ts';
import { ATTACH_STEPS, DETACH_STEPS, FAILOVER_ACTIONS, SERVING_STEPS } from './decide.ts';

/**
 * Environment (plus {@link TrinoConnectionEnvSchema}; `TRINO_URL` is the coordinator ENI's address, the one clients
 * and workers use):
 * - `CLUSTER_NAME`, `COORDINATOR_ENI_ID` (required).
 * - `PRIMARY_URL_TEMPLATE` (`https://{privateIp}:8443`): a coordinator instance's own address (`{privateIp}`,
 *   `{tag:<Key>}`), used to check standbys and the failed coordinator's process.
 * - `ENI_DEVICE_INDEX` (1): the device index the ENI is attached at.
 * - `COORDINATOR_ASG_NAME` (required): the coordinator group; standbys are its InService members, it is scaled
 *   out when no standby exists, and the failed instance is terminated in it (the group replaces it).
 * - `WORKER_ASG_NAME`: its InService count is the worker baseline that must re-announce; else `MIN_WORKERS`.
 * - `MIN_WORKERS` (0): workers that must re-announce (0: the worker group's InService count, or none).
 * - `DETACH_FORCE_AFTER_MS` (10000), `DETACH_GIVE_UP_AFTER_MS` (120000), `ATTACH_TIMEOUT_MS` (60000),
 *   `SERVING_TIMEOUT_MS` (180000): step deadlines.
 * - `STANDBY_WAIT_SECONDS` (30), `STANDBY_MAX_WAITS` (20): the no-standby loop; `STANDBY_BOOT_GRACE_SECONDS` (600):
 *   an InService coordinator-group instance launched more recently is booting (no scale-out while one is).
 * - `PROBE_TIMEOUT_MS` (2000), `METRICS_NAMESPACE` (`Trino`), `ALARM_TOPIC_ARN` (SNS, optional),
 *   `TERMINATE_FAILED` (true): terminate (in a group) rather than stop the failed instance.
 */
export const FailoverEnvSchema = TrinoConnectionEnvSchema.extend({
  CLUSTER_NAME: z.string().min(1),
  COORDINATOR_ENI_ID: z.string().regex(/^eni-[0-9a-f]{8,17}$/, 'must be an ENI id (eni-…)'),
  PRIMARY_URL_TEMPLATE: z.string().min(1).default('https://{privateIp}:8443'),
  ENI_DEVICE_INDEX: envInt(1, 15).default(1),
  COORDINATOR_ASG_NAME: z.string().min(1),
  WORKER_ASG_NAME: z.string().min(1).optional(),
  MIN_WORKERS: envInt(0, 10_000).default(0),
  DETACH_FORCE_AFTER_MS: envInt(0, 600_000).default(10_000),
  DETACH_GIVE_UP_AFTER_MS: envInt(1_000, 1_800_000).default(120_000),
  ATTACH_TIMEOUT_MS: envInt(1_000, 600_000).default(60_000),
  SERVING_TIMEOUT_MS: envInt(1_000, 1_800_000).default(180_000),
  STANDBY_WAIT_SECONDS: envInt(1, 3_600).default(30),
  STANDBY_MAX_WAITS: envInt(0, 1_000).default(20),
  STANDBY_BOOT_GRACE_SECONDS: envInt(0, 7_200).default(600),
  PROBE_TIMEOUT_MS: envInt(100, 30_000).default(2_000),
  TERMINATE_FAILED: envBool.default(true),
  METRICS_NAMESPACE: z.string().min(1).default('Trino'),
  ALARM_TOPIC_ARN: z.string().startsWith('arn:').optional(),
});
/** Parsed {@link FailoverEnvSchema}. */
export type FailoverConfig = z.infer<typeof FailoverEnvSchema>;

/**
 * Execution input: from coordinator-health (`mode: failover`) or an operator (`{"mode":"drill","dryRun":true}`).
 * Unknown fields are kept (they travel in the state) but not used.
 */
export const FailoverInputSchema = z
  .object({
    mode: z.enum(['failover', 'drill']),
    dryRun: z.boolean().default(false),
    /** ms from the first failed probe to the confirmation (coordinator-health). */
    detectedAfterMs: z.number().int().nonnegative().default(0),
    /** The ENI attachment the trigger saw: the lock's key. */
    attachmentId: z.string().min(1).optional(),
    instanceId: z.string().min(1).optional(),
    secondSignal: z.string().optional(),
    reason: z.string().max(500).optional(),
  })
  .loose();
/** Parsed {@link FailoverInputSchema}. */
export type FailoverInput = z.infer<typeof FailoverInputSchema>;

const FencePlanSchema = z.object({
  forceDetach: z.boolean(),
  instanceAction: z.enum(['TERMINATE', 'STOP', 'NONE']),
  inAutoScalingGroup: z.boolean().default(false),
});

/** The plan as carried in the state ({@link import('./decide.ts').FailoverPlan}). */
export const PlanSchema = z.object({
  action: z.enum(FAILOVER_ACTIONS),
  reason: z.string(),
  failedInstanceId: z.string().optional(),
  attachmentId: z.string().optional(),
  standbyInstanceId: z.string().optional(),
  fence: FencePlanSchema.optional(),
  steps: z.array(z.string()).readonly(),
});

/** One timeline entry: what happened when (epoch ms). */
export const TimelineEntrySchema = z.object({ atMs: z.number(), event: z.string() });

/** The execution's state after PlanFailover; every later Task parses and returns it. */
export const FailoverStateSchema = FailoverInputSchema.extend({
  cluster: z.string(),
  /** Epoch ms of the first failed probe (start − detectedAfterMs). */
  failureAtMs: z.number(),
  startedAtMs: z.number(),
  plan: PlanSchema,
  baselineWorkers: z.number().int().nonnegative(),
  standbyWaits: z.number().int().nonnegative().default(0),
  standbyWaitSeconds: z.number().int().positive(),
  giveUp: z.boolean().default(false),
  /** The desired capacity this execution scaled the coordinator group out to (undone when fencing). */
  scaledOutTo: z.number().int().positive().optional(),
  detach: z
    .object({
      requestedAtMs: z.number(),
      forced: z.boolean(),
      step: z.enum(DETACH_STEPS),
      detachedAtMs: z.number().optional(),
    })
    .optional(),
  fenced: z.object({ instanceAction: z.string(), atMs: z.number() }).optional(),
  attach: z
    .object({
      requestedAtMs: z.number(),
      attachmentId: z.string().optional(),
      step: z.enum(ATTACH_STEPS),
      attachedAtMs: z.number().optional(),
    })
    .optional(),
  serving: z
    .object({
      firstCheckAtMs: z.number(),
      step: z.enum(SERVING_STEPS),
      servingAtMs: z.number().optional(),
      workersBackAtMs: z.number().optional(),
      workers: z.number().int().nonnegative(),
    })
    .optional(),
  timeline: z.array(TimelineEntrySchema).default([]),
  /** Set by a Catch (`ResultPath: $.error`): `{ Error, Cause }`. */
  error: z.object({ Error: z.string(), Cause: z.string().optional() }).loose().optional(),
  /** Set (true) by the `AttachFailed` Pass state when AttachEni or CheckAttach failed: recovery avoids that standby. */
  attachFailed: z.boolean().optional(),
});
/** Parsed {@link FailoverStateSchema}. */
export type FailoverState = z.infer<typeof FailoverStateSchema>;

/** Task names of the failover state machine, each a key of the task registry (./registry.ts). */
export const FAILOVER_TASK_NAMES = [
  'PlanFailover',
  'AwaitStandby',
  'DetachEni',
  'CheckDetach',
  'FenceFailed',
  'AttachEni',
  'CheckAttach',
  'CheckServing',
  'CompleteFailover',
  'NotifyFailure',
] as const;
/** See {@link FAILOVER_TASK_NAMES}. */
export type FailoverTaskName = (typeof FAILOVER_TASK_NAMES)[number];

/**
 * What NotifyFailure receives: whatever state the failed Task had (a Catch keeps the failed state's input and adds
 * `error`), which after a failed first step is only the execution input. Every field is optional here: the
 * notification must go out whatever the state holds. Unknown fields are kept.
 */
export const FailureStateSchema = z
  .object({
    mode: z.string().optional(),
    dryRun: z.boolean().optional(),
    cluster: z.string().optional(),
    failureAtMs: z.number().optional(),
    startedAtMs: z.number().optional(),
    plan: PlanSchema.optional(),
    attach: z
      .object({ step: z.enum(ATTACH_STEPS) })
      .loose()
      .optional(),
    attachFailed: z.boolean().optional(),
    timeline: z.array(TimelineEntrySchema).default([]),
    error: z.object({ Error: z.string(), Cause: z.string().optional() }).loose().optional(),
  })
  .loose();
/** Parsed {@link FailureStateSchema}. */
export type FailureState = z.infer<typeof FailureStateSchema>;

/**
 * The execution a Task runs in, from the context object (`"execution": {"id.$": "$$.Execution.Id",
 * "startTime.$": "$$.Execution.StartTime"}`): the lock's identity. Source: AWS Step Functions developer guide,
 * "Accessing execution data from the Context object" (`Id`: the execution ARN; `StartTime`: ISO 8601).
 */
export const ExecutionRefSchema = z.object({
  id: z.string().startsWith('arn:'),
  startTime: z.iso.datetime({ offset: true }),
});
/** Parsed {@link ExecutionRefSchema}. */
export type ExecutionRef = z.infer<typeof ExecutionRefSchema>;

/**
 * What every Task state sends the one failover function: `{"task": "<name>", "state.$": "$"}` (ASL `Parameters`),
 * plus `execution` on the states that take or check the lock (PlanFailover, NotifyFailure).
 * PlanFailover's state is the execution input on first entry, the state afterwards.
 */
export const FailoverTaskInputSchema = z.object({
  task: z.enum(FAILOVER_TASK_NAMES),
  state: z.unknown(),
  execution: ExecutionRefSchema.optional(),
});
