/**
 * worker-drain: graceful scale-in of Trino workers behind an Auto Scaling termination lifecycle hook.
 *
 * Entry points (each a thin middy handler: validate → gather → decide (./decide.ts) → act):
 * - {@link startDrain}: EventBridge `EC2 Instance-terminate Lifecycle Action` → one state machine execution per
 *   instance and lifecycle action token (the execution name is derived from both: a duplicate event is a no-op).
 * - {@link beginDrain}, {@link checkDrain}, {@link completeDrain}: the Task states of statemachines/worker-drain.asl.json.
 * - {@link spotInterruption}: EventBridge `EC2 Spot Instance Interruption Warning` → shutdown request at once.
 * - {@link terminationPolicy}: Auto Scaling custom termination policy → least-loaded workers first.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { AutoScalingClient, DescribeLifecycleHooksCommand } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import middy from '@middy/core';
import {
  completeLifecycleAction,
  type LifecycleActionRef,
  recordLifecycleActionHeartbeat,
} from '../../lib/aws/autoscaling.ts';
import { publishMetrics } from '../../lib/aws/cloudwatch.ts';
import { describeInstance } from '../../lib/aws/ec2.ts';
import { loadConfig } from '../../lib/config.ts';
import {
  AwsError,
  ConfigError,
  InstanceGoneError,
  LifecycleActionGoneError,
  SentinelError,
} from '../../lib/errors.ts';
import { instanceUrl } from '../../lib/instance-url.ts';
import { logger } from '../../lib/logger.ts';
import { validateEvent } from '../../lib/middleware.ts';
import type { TrinoClient } from '../../lib/trino/client.ts';
import { lazyTrinoClient } from '../../lib/trino/connect.ts';
import {
  chooseDrainRequest,
  type DrainPolicy,
  decideDrainStep,
  orderForTermination,
  planDrain,
  type TerminationCandidate,
} from './decide.ts';
import {
  type DrainConfig,
  DrainEnvSchema,
  type DrainExecutionInput,
  DrainExecutionInputSchema,
  type DrainState,
  type DrainTaskInput,
  DrainTaskInputSchema,
  type LifecycleActionEvent,
  LifecycleActionEventSchema,
  type SpotInterruptionEvent,
  SpotInterruptionEventSchema,
  type TerminationPolicyInput,
  TerminationPolicyInputSchema,
} from './schemas.ts';
import { observeWorkerState, requestDrain } from './worker.ts';

/** Everything the drain handlers need from outside; injectable for tests. */
export interface DrainDeps {
  readonly config: DrainConfig;
  readonly autoscaling: AutoScalingClient;
  readonly ec2: EC2Client;
  readonly sfn: SFNClient;
  readonly cloudwatch: CloudWatchClient;
  /** Coordinator client (credentials resolved once). */
  readonly coordinator: () => Promise<TrinoClient>;
  /** Epoch ms. */
  readonly now: () => number;
}

/** Policy of {@link decideDrainStep} from configuration and the hook's real HeartbeatTimeout. */
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

function workerClientFor(coordinator: TrinoClient, url: string): TrinoClient {
  // Credentials travel only over TLS: a worker's plain-HTTP internal port gets the user header alone.
  return url.startsWith('https:')
    ? coordinator.forNode(url)
    : coordinator.forNode(url, { auth: { type: 'none' } });
}

function safeRef(ref: LifecycleActionRef) {
  return {
    instanceId: ref.instanceId,
    autoScalingGroupName: ref.autoScalingGroupName,
    lifecycleHookName: ref.lifecycleHookName,
  };
}

/**
 * startDrain: lifecycle event → `StartExecution` named by {@link drainExecutionName}.
 * @returns `{ started: true, executionArn }`, or `{ started: false, duplicate: true }` for a repeated event.
 * @throws ConfigError without `DRAIN_STATE_MACHINE_ARN`; AwsError when Step Functions fails.
 */
export async function runStartDrain(event: LifecycleActionEvent, deps: DrainDeps) {
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
  try {
    const out = await deps.sfn.send(
      new StartExecutionCommand({ stateMachineArn: arn, name, input: JSON.stringify(input) }),
    );
    logger.info('Drain started', { ...safeRef(input.lifecycle), executionName: name });
    return { started: true, duplicate: false, executionName: name, executionArn: out.executionArn };
  } catch (error) {
    if (error instanceof ExecutionAlreadyExists) {
      logger.info('Duplicate lifecycle event: drain already running or done', {
        ...safeRef(input.lifecycle),
        executionName: name,
      });
      return { started: false, duplicate: true, executionName: name };
    }
    throw new AwsError('Step Functions StartExecution failed for the drain', {
      cause: error,
      context: { ...safeRef(input.lifecycle), executionName: name },
    });
  }
}

async function heartbeatTimeoutMs(deps: DrainDeps, ref: LifecycleActionRef): Promise<number> {
  const out = await deps.autoscaling.send(
    new DescribeLifecycleHooksCommand({
      AutoScalingGroupName: ref.autoScalingGroupName,
      LifecycleHookNames: [ref.lifecycleHookName],
    }),
  );
  const hook = out.LifecycleHooks?.find((h) => h.LifecycleHookName === ref.lifecycleHookName);
  if (hook?.HeartbeatTimeout === undefined) {
    throw new LifecycleActionGoneError(`Lifecycle hook ${ref.lifecycleHookName} no longer exists`, {
      context: safeRef(ref),
    });
  }
  return hook.HeartbeatTimeout * 1_000;
}

/**
 * BeginDrain task: finds the worker, asks it to drain (DRAINING where supported, else SHUTTING_DOWN), plans
 * the deadline and poll pacing, and returns the first {@link DrainState}.
 * @throws LifecycleActionGoneError (hook deleted), InstanceGoneError (instance gone) — the state machine ends
 *   quietly on both; TrinoAuthError (the worker refused: the message names the missing rule); transient errors
 *   (TrinoTimeoutError, TrinoConnectionError, AwsThrottledError) are retried by the state machine.
 */
export async function runBeginDrain(input: DrainExecutionInput, deps: DrainDeps): Promise<DrainState> {
  const ref = input.lifecycle;
  const [hookTimeoutMs, instance, coordinator] = await Promise.all([
    heartbeatTimeoutMs(deps, ref),
    describeInstance(deps.ec2, ref.instanceId),
    deps.coordinator(),
  ]);
  const workerUrl = instanceUrl(deps.config.WORKER_URL_TEMPLATE, instance);
  const worker = workerClientFor(coordinator, workerUrl);
  try {
    const info = await worker.getInfo();
    const wanted = chooseDrainRequest(
      info.nodeVersion.version,
      deps.config.TRINO_FLAVOR,
      deps.config.PREFER_DRAINING,
    );
    const requested = await requestDrain(worker, wanted);
    const now = deps.now();
    const policy = drainPolicy(deps.config, hookTimeoutMs);
    const schedule = planDrain(Date.parse(input.startedAt), policy);
    logger.info('Worker asked to drain', {
      ...safeRef(ref),
      workerUrl,
      requested,
      trinoVersion: info.nodeVersion.version,
      deadlineAt: new Date(schedule.deadlineAtMs).toISOString(),
      pollIntervalSeconds: schedule.pollIntervalSeconds,
      heartbeatTimeoutSeconds: hookTimeoutMs / 1_000,
    });
    return {
      workerUrl,
      requested,
      heartbeatTimeoutMs: hookTimeoutMs,
      schedule,
      // The lifecycle action's own start counts as the last "heartbeat": the timeout runs from there.
      progress: {
        lastHeartbeatAtMs: Math.min(now, schedule.startedAtMs),
        heartbeats: 0,
        consecutiveUnreachable: 0,
        polls: 0,
      },
      done: false,
      waitSeconds: Math.min(schedule.pollIntervalSeconds, 5),
    };
  } finally {
    worker.close();
  }
}

/**
 * CheckDrain task: observes the worker and instance, decides ({@link decideDrainStep}), heartbeats and
 * re-requests as decided, and returns the next {@link DrainState}.
 * @throws LifecycleActionGoneError when the heartbeat finds the action gone (ends quietly); transient errors retried.
 */
export async function runCheckDrain(input: DrainTaskInput, deps: DrainDeps): Promise<DrainState> {
  const ref = input.lifecycle;
  const drain = input.drain;
  const coordinator = await deps.coordinator();
  const worker = workerClientFor(coordinator, drain.workerUrl);
  try {
    const [workerState, instancePresent] = await Promise.all([
      observeWorkerState(worker),
      describeInstance(deps.ec2, ref.instanceId).then(
        () => true,
        (error: unknown) => {
          if (error instanceof InstanceGoneError) return false;
          throw error;
        },
      ),
    ]);
    const now = deps.now();
    const step = decideDrainStep(
      drain.schedule,
      drain.progress,
      { workerState, instancePresent },
      drainPolicy(deps.config, drain.heartbeatTimeoutMs),
      drain.requested,
      now,
    );
    if (step.heartbeat) await recordLifecycleActionHeartbeat(deps.autoscaling, ref);
    if (step.request !== undefined && step.done) {
      // The drain is over (DRAINED): asking the idle process to exit is best effort, never a reason to hold the
      // instance; it is terminated right after the action completes.
      await worker.setState(step.request).then(
        () => logger.info('Drained worker asked to exit', { ...safeRef(ref), requested: step.request }),
        (error: unknown) =>
          logger.warn('Drained worker did not take SHUTTING_DOWN; the instance is terminated anyway', {
            ...safeRef(ref),
            error: error instanceof Error ? { name: error.name, message: error.message } : String(error),
          }),
      );
    } else if (step.request !== undefined) {
      await worker.setState(step.request);
      logger.info('Worker state requested again', {
        ...safeRef(ref),
        observed: workerState,
        requested: step.request,
      });
    }
    logger.info('Drain check', {
      ...safeRef(ref),
      workerState,
      done: step.done,
      outcome: step.outcome,
      heartbeat: step.heartbeat,
      polls: step.progress.polls,
      waitSeconds: step.waitSeconds,
    });
    return {
      ...drain,
      progress: step.progress,
      done: step.done,
      ...(step.outcome === undefined ? {} : { outcome: step.outcome }),
      waitSeconds: step.waitSeconds,
    };
  } finally {
    worker.close();
  }
}

/**
 * CompleteLifecycleAction task: `CONTINUE`, then publishes `DrainDurationSeconds`, `DrainHeartbeats` and
 * (on the deadline path) `DrainDeadlineReached`.
 * @returns The summary the drill prints: `{ lifecycleResult, outcome, heartbeats, drainSeconds }`.
 * @throws LifecycleActionGoneError (ends quietly) | AwsThrottledError (retried) | AwsError.
 */
export async function runCompleteDrain(input: DrainTaskInput, deps: DrainDeps) {
  const ref = input.lifecycle;
  const drain = input.drain;
  await completeLifecycleAction(deps.autoscaling, ref, 'CONTINUE');
  const now = deps.now();
  const drainSeconds = Math.round((now - drain.schedule.startedAtMs) / 1_000);
  const outcome = drain.outcome ?? 'DEADLINE';
  if (outcome === 'DEADLINE') {
    logger.warn('Drain deadline reached: lifecycle action completed with the worker still busy', {
      ...safeRef(ref),
      drainSeconds,
    });
  } else {
    logger.info('Drain complete', {
      ...safeRef(ref),
      outcome,
      drainSeconds,
      heartbeats: drain.progress.heartbeats,
    });
  }
  await publishMetrics(
    deps.cloudwatch,
    [
      { name: 'DrainDurationSeconds', unit: 'Seconds', value: drainSeconds },
      { name: 'DrainHeartbeats', unit: 'Count', value: drain.progress.heartbeats },
      { name: 'DrainDeadlineReached', unit: 'Count', value: outcome === 'DEADLINE' ? 1 : 0 },
    ],
    {
      namespace: deps.config.METRICS_NAMESPACE,
      clusterName: deps.config.CLUSTER_NAME,
      timestamp: new Date(now),
    },
  ).catch((error: unknown) => logger.warn('Could not publish drain metrics', { error: String(error) }));
  return {
    lifecycleResult: 'CONTINUE' as const,
    outcome,
    heartbeats: drain.progress.heartbeats,
    drainSeconds,
  };
}

/**
 * Spot interruption: the instance has two minutes. If it is a worker of this cluster, ask it for
 * `SHUTTING_DOWN` at once (the worker's `shutdown.grace-period` should be short on Spot workers; see docs/drain.md).
 * @returns What was done; non-workers and other clusters are ignored with a log line.
 */
export async function runSpotInterruption(event: SpotInterruptionEvent, deps: DrainDeps) {
  const instanceId = event.detail['instance-id'];
  let instance: Awaited<ReturnType<typeof describeInstance>>;
  try {
    instance = await describeInstance(deps.ec2, instanceId);
  } catch (error) {
    if (error instanceof InstanceGoneError) {
      logger.info('Spot interruption for an instance that is already gone', { instanceId });
      return { action: 'none', reason: 'instance gone' } as const;
    }
    throw error;
  }
  if (
    instance.tags['trino-sentinel:cluster'] !== deps.config.CLUSTER_NAME ||
    instance.tags['trino-sentinel:role'] !== 'worker'
  ) {
    logger.info('Spot interruption for an instance that is not a worker of this cluster: ignored', {
      instanceId,
    });
    return { action: 'none', reason: 'not a worker of this cluster' } as const;
  }
  const coordinator = await deps.coordinator();
  const worker = workerClientFor(coordinator, instanceUrl(deps.config.WORKER_URL_TEMPLATE, instance));
  try {
    await worker.setState('SHUTTING_DOWN');
  } finally {
    worker.close();
  }
  logger.info('Spot interruption: worker asked for SHUTTING_DOWN', { instanceId });
  return { action: 'SHUTTING_DOWN', instanceId } as const;
}

const TASK_LOAD_SQL = `SELECT n.http_uri,
  count(t.task_id) FILTER (WHERE t.state NOT IN ('FINISHED', 'FAILED', 'ABORTED', 'CANCELED')),
  coalesce(sum(t.running_splits + t.queued_splits), 0)
FROM system.runtime.nodes n LEFT JOIN system.runtime.tasks t ON t.node_id = n.node_id
WHERE n.coordinator = false
GROUP BY n.http_uri`;

/**
 * Custom termination policy: orders candidates least-loaded first from the coordinator's view
 * (`system.runtime.tasks` joined to `system.runtime.nodes`). On any error, Auto Scaling's own order is returned.
 * @returns `{ InstanceIDs }` as Auto Scaling expects.
 */
export async function runTerminationPolicy(input: TerminationPolicyInput, deps: DrainDeps) {
  const fallback = { InstanceIDs: input.Instances.map((i) => i.InstanceId) };
  try {
    const coordinator = await deps.coordinator();
    const [load, instances] = await Promise.all([
      coordinator.query(TASK_LOAD_SQL),
      Promise.all(
        input.Instances.map((i) => describeInstance(deps.ec2, i.InstanceId).catch(() => undefined)),
      ),
    ]);
    const byUrl = new Map<string, { tasks: number; splits: number }>();
    for (const row of load.rows) {
      const [uri, tasks, splits] = row;
      if (typeof uri === 'string' && typeof tasks === 'number' && typeof splits === 'number') {
        byUrl.set(new URL(uri).origin, { tasks, splits });
      }
    }
    const candidates: TerminationCandidate[] = input.Instances.map((candidate, index) => {
      const instance = instances[index];
      if (instance === undefined) return { instanceId: candidate.InstanceId };
      const url = new URL(instanceUrl(deps.config.WORKER_URL_TEMPLATE, instance)).origin;
      return { instanceId: candidate.InstanceId, ...byUrl.get(url) };
    });
    const ordered = orderForTermination(candidates);
    logger.info('Termination order', { candidates, ordered });
    return { InstanceIDs: ordered };
  } catch (error) {
    logger.error('Termination policy fell back to the default order', {
      error: error instanceof SentinelError ? { name: error.name, message: error.message } : String(error),
    });
    return fallback;
  }
}

let defaultDeps: DrainDeps | undefined;

/** Default dependencies, built once per container. */
export function getDefaultDrainDeps(): DrainDeps {
  if (defaultDeps === undefined) {
    const config = loadConfig(DrainEnvSchema);
    defaultDeps = {
      config,
      autoscaling: new AutoScalingClient({}),
      ec2: new EC2Client({}),
      sfn: new SFNClient({}),
      cloudwatch: new CloudWatchClient({}),
      coordinator: lazyTrinoClient(config),
      now: () => Date.now(),
    };
  }
  return defaultDeps;
}

type DepsSource = DrainDeps | (() => DrainDeps);
const resolve = (deps: DepsSource) => (typeof deps === 'function' ? deps() : deps);

/** Builds all drain handlers over the given dependencies. */
export function makeDrainHandlers(deps: DepsSource = getDefaultDrainDeps) {
  const wrap = <T, R>(
    schema: Parameters<typeof validateEvent>[0],
    source: string,
    fn: (event: T, d: DrainDeps) => Promise<R>,
  ) =>
    middy<T, R>()
      .use(injectLambdaContext(logger))
      .use(validateEvent(schema, source))
      .handler(async (event: T) => fn(event, resolve(deps)));
  return {
    startDrain: wrap<LifecycleActionEvent, Awaited<ReturnType<typeof runStartDrain>>>(
      LifecycleActionEventSchema,
      'EC2 Instance-terminate Lifecycle Action event',
      runStartDrain,
    ),
    beginDrain: wrap<DrainExecutionInput, DrainState>(
      DrainExecutionInputSchema,
      'drain execution input',
      runBeginDrain,
    ),
    checkDrain: wrap<DrainTaskInput, DrainState>(
      DrainTaskInputSchema,
      'CheckDrain task input',
      runCheckDrain,
    ),
    completeDrain: wrap<DrainTaskInput, Awaited<ReturnType<typeof runCompleteDrain>>>(
      DrainTaskInputSchema,
      'CompleteLifecycleAction task input',
      runCompleteDrain,
    ),
    spotInterruption: wrap<SpotInterruptionEvent, Awaited<ReturnType<typeof runSpotInterruption>>>(
      SpotInterruptionEventSchema,
      'EC2 Spot Instance Interruption Warning event',
      runSpotInterruption,
    ),
    terminationPolicy: wrap<TerminationPolicyInput, { InstanceIDs: string[] }>(
      TerminationPolicyInputSchema,
      'custom termination policy input',
      runTerminationPolicy,
    ),
  };
}

const handlers = makeDrainHandlers();
/** Lambda entry points (see serverless.yml). */
export const { startDrain, beginDrain, checkDrain, completeDrain, spotInterruption, terminationPolicy } =
  handlers;
