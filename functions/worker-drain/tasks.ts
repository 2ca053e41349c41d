/**
 * The Task states of statemachines/worker-drain.asl.json: BeginDrain (find the worker, ask it to drain, plan the
 * deadline), CheckDrain (observe, heartbeat, re-request), CompleteLifecycleAction (CONTINUE, metrics).
 * A lifecycle action that is gone ends the drain quietly in the state machine (`EndQuietly`) — but never silently:
 * `DrainLifecycleLost` is published first (and alarms).
 *
 * @module
 */

import * as z from 'zod';
import {
  completeLifecycleAction,
  lifecycleHookHeartbeatTimeoutMs,
  recordLifecycleActionHeartbeat,
} from '../../lib/aws/autoscaling.ts';
import { type AwsCall, describeInstance } from '../../lib/aws/ec2.ts';
import { publishNotification } from '../../lib/aws/sns.ts';
import { InstanceGoneError, LifecycleActionGoneError } from '../../lib/errors.ts';
import { eventHandler } from '../../lib/handler.ts';
import { instanceUrl } from '../../lib/instance-url.ts';
import { logger } from '../../lib/logger.ts';
import { chooseDrainRequest, decideDrainStep, planDrain } from './decide.ts';
import {
  countingLost,
  type DrainDeps,
  drainPolicy,
  getDefaultDrainDeps,
  publishDrainMetrics,
  safeRef,
} from './deps.ts';
import {
  type DrainExecutionInput,
  DrainExecutionInputSchema,
  type DrainFailedInput,
  DrainFailedInputSchema,
  type DrainState,
  type DrainTaskInput,
  DrainTaskInputSchema,
} from './schemas.ts';
import { observeWorkerState, requestDrain } from './worker.ts';

/**
 * BeginDrain: finds the worker, asks it to drain (DRAINING where supported, else SHUTTING_DOWN), plans the
 * deadline and poll pacing, and returns the first {@link DrainState}.
 * @throws LifecycleActionGoneError (hook deleted), InstanceGoneError (instance gone) — the state machine ends
 *   quietly on both; TrinoAuthError (the worker refused: the message names the missing rule); transient errors
 *   (TrinoTimeoutError, TrinoConnectionError, AwsThrottledError) are retried by the state machine.
 */
export async function runBeginDrain(
  input: DrainExecutionInput,
  deps: DrainDeps,
  call: AwsCall = {},
): Promise<DrainState> {
  const ref = input.lifecycle;
  return countingLost(deps, ref, call, async () => {
    const [hookTimeoutMs, instance, coordinator] = await Promise.all([
      lifecycleHookHeartbeatTimeoutMs(
        deps.autoscaling,
        ref.autoScalingGroupName,
        ref.lifecycleHookName,
        call,
      ),
      describeInstance(deps.ec2, ref.instanceId, call),
      deps.coordinator(),
    ]);
    const workerUrl = instanceUrl(deps.config.WORKER_URL_TEMPLATE, instance);
    return coordinator.withNode(workerUrl, async (worker) => {
      const info = await worker.getInfo(call.signal ? { signal: call.signal } : {});
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
    });
  });
}

/**
 * CheckDrain: observes the worker and instance, decides ({@link decideDrainStep}), heartbeats and re-requests as
 * decided, and returns the next {@link DrainState}.
 * @throws LifecycleActionGoneError when the heartbeat finds the action gone (ends quietly, counted); transient
 *   errors retried by the state machine.
 */
export async function runCheckDrain(
  input: DrainTaskInput,
  deps: DrainDeps,
  call: AwsCall = {},
): Promise<DrainState> {
  const { lifecycle: ref, drain } = input;
  return countingLost(deps, ref, call, async () => {
    const coordinator = await deps.coordinator();
    return coordinator.withNode(drain.workerUrl, async (worker) => {
      const [workerState, instancePresent] = await Promise.all([
        observeWorkerState(worker),
        describeInstance(deps.ec2, ref.instanceId, call).then(
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
      if (step.heartbeat) await recordLifecycleActionHeartbeat(deps.autoscaling, ref, call);
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
    });
  });
}

/**
 * CompleteLifecycleAction: `CONTINUE`, then publishes `DrainDurationSeconds`, `DrainHeartbeats` and (on the
 * deadline path) `DrainDeadlineReached`.
 * @returns The summary the drill prints: `{ lifecycleResult, outcome, heartbeats, drainSeconds }`.
 * @throws LifecycleActionGoneError (ends quietly, counted) | AwsThrottledError (retried) | AwsError.
 */
export async function runCompleteDrain(input: DrainTaskInput, deps: DrainDeps, call: AwsCall = {}) {
  const ref = input.lifecycle;
  const drain = input.drain;
  await countingLost(deps, ref, call, () => completeLifecycleAction(deps.autoscaling, ref, 'CONTINUE', call));
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
  await publishDrainMetrics(
    deps,
    [
      { name: 'DrainDurationSeconds', unit: 'Seconds', value: drainSeconds },
      { name: 'DrainHeartbeats', unit: 'Count', value: drain.progress.heartbeats },
      { name: 'DrainDeadlineReached', unit: 'Count', value: outcome === 'DEADLINE' ? 1 : 0 },
    ],
    call,
  );
  return {
    lifecycleResult: 'CONTINUE' as const,
    outcome,
    heartbeats: drain.progress.heartbeats,
    drainSeconds,
  };
}

/**
 * DrainFailed (the target of every Catch except a lost lifecycle action's): a drain that cannot go on after its
 * retries still completes its lifecycle action — exactly once: `CONTINUE`, the instance was going away and Auto
 * Scaling would apply the hook's default result at its heartbeat timeout anyway, with nobody watching the worker —
 * then counts `DrainsFailed` and notifies the alarm topic. The lifecycle action is completed first: a retry of this
 * task after a failed notification finds it already completed (`LifecycleActionGoneError`, taken as done) and only
 * notifies. The execution then fails (the WorkerDrainFailed alarm counts it).
 * @returns `{ lifecycleResult, outcome: 'FAILED', error }`.
 * @throws AwsThrottledError | AwsTransientError (retried) | AwsError when the lifecycle action cannot be completed
 *   or the notification cannot be published.
 */
export async function runDrainFailed(input: DrainFailedInput, deps: DrainDeps, call: AwsCall = {}) {
  const ref = input.lifecycle;
  logger.error('Drain failed: completing the lifecycle action (CONTINUE) and alarming', {
    ...safeRef(ref),
    error: input.error,
  });
  let lifecycleResult: 'CONTINUE' | 'ALREADY_COMPLETED_OR_EXPIRED' = 'CONTINUE';
  try {
    await completeLifecycleAction(deps.autoscaling, ref, 'CONTINUE', call);
  } catch (error) {
    if (!(error instanceof LifecycleActionGoneError)) throw error;
    lifecycleResult = 'ALREADY_COMPLETED_OR_EXPIRED';
  }
  await publishDrainMetrics(deps, [{ name: 'DrainsFailed', unit: 'Count', value: 1 }], call);
  if (deps.config.ALARM_TOPIC_ARN !== undefined) {
    await publishNotification(
      deps.sns,
      deps.config.ALARM_TOPIC_ARN,
      `Trino worker drain FAILED (${deps.config.CLUSTER_NAME}, ${ref.instanceId})`,
      { cluster: deps.config.CLUSTER_NAME, ...safeRef(ref), error: input.error, lifecycleResult },
      call,
    );
  }
  return { lifecycleResult, outcome: 'FAILED' as const, error: input.error };
}

/** Builds the three task handlers over the given dependencies. */
export function makeDrainTaskHandlers(deps: () => DrainDeps = getDefaultDrainDeps) {
  return {
    beginDrain: eventHandler(DrainExecutionInputSchema, 'drain execution input', deps, runBeginDrain),
    checkDrain: eventHandler(DrainTaskInputSchema, 'CheckDrain task input', deps, runCheckDrain),
    // CompleteLifecycleAction on a drained worker, or DrainFailed (`failed: true`) after a drain that failed.
    completeDrain: eventHandler(
      z.union([DrainFailedInputSchema, DrainTaskInputSchema]),
      'CompleteLifecycleAction or DrainFailed task input',
      deps,
      async (
        input,
        d,
        call,
      ): Promise<Awaited<ReturnType<typeof runCompleteDrain | typeof runDrainFailed>>> =>
        'failed' in input ? runDrainFailed(input, d, call) : runCompleteDrain(input, d, call),
    ),
  };
}

/** Lambda entry points (serverless.yml: `beginDrain`, `checkDrain`, `completeDrain`). */
export const { beginDrain, checkDrain, completeDrain } = makeDrainTaskHandlers();
