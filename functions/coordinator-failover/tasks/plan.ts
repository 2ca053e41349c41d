/**
 * PlanFailover: observes the ENI, its holder and the coordinator group, then plans with {@link planFailover}
 * (fail over, dry-run, wait for a standby, or stand down). Also the re-entry point after a standby wait.
 *
 * @module
 */
import { describeGroup } from '../../../lib/aws/autoscaling.ts';
import type { AwsCall } from '../../../lib/aws/ec2.ts';
import { lockCandidates } from '../../../lib/aws/sfn.ts';
import { ValidationError } from '../../../lib/errors.ts';
import { decideLock, type LockDecision, stateMachineOf } from '../../../lib/failover-lock.ts';
import { logger } from '../../../lib/logger.ts';
import { parseEvent } from '../../../lib/middleware.ts';
import { planFailover } from '../decide.ts';
import { type FailoverDeps, note, type TaskCall } from '../deps.ts';
import { observeCoordinators } from '../observe.ts';
import {
  type FailoverInput,
  FailoverInputSchema,
  type FailoverState,
  FailoverStateSchema,
} from '../schemas.ts';

/** The worker count that must re-announce: `MIN_WORKERS`, else the worker group's InService count, else 0. */
async function workerBaseline(deps: FailoverDeps, call: AwsCall): Promise<number> {
  if (deps.config.MIN_WORKERS > 0 || deps.config.WORKER_ASG_NAME === undefined)
    return deps.config.MIN_WORKERS;
  try {
    const group = await describeGroup(deps.autoscaling, deps.config.WORKER_ASG_NAME, call);
    return (group?.instances ?? []).filter((i) => i.lifecycleState === 'InService').length;
  } catch (error) {
    logger.warn('Could not read the worker group: no worker baseline', { error: String(error) });
    return 0;
  }
}

/**
 * Takes the failover lock ({@link decideLock}): every execution that is not a dry run, on its first planning.
 * @throws ValidationError when the Task input lacks `execution` (the ASL must pass `$$.Execution`);
 *   AwsThrottledError | AwsTransientError | AwsError when the running executions cannot be listed (retried: the
 *   lock is never taken on an unknown).
 */
async function takeLock(deps: FailoverDeps, call: TaskCall): Promise<LockDecision> {
  const self = call.execution;
  const stateMachineArn = self === undefined ? undefined : stateMachineOf(self.id);
  if (self === undefined || stateMachineArn === undefined) {
    throw new ValidationError(
      'PlanFailover needs its execution ("execution": {"id.$": "$$.Execution.Id", "startTime.$": "$$.Execution.StartTime"}) to take the failover lock',
    );
  }
  const running = await lockCandidates(deps.sfn, stateMachineArn, self.id, call);
  return decideLock({ executionArn: self.id, startDateMs: Date.parse(self.startTime) }, running);
}

/**
 * @param input - The execution input on first entry ({@link FailoverInputSchema}), the state afterwards.
 * @param call - The abort signal and the execution (for the lock, taken on first entry by every execution that is
 *   not a dry run; a re-entry after a standby wait already holds it: a later execution can never start earlier).
 * @throws ValidationError (bad input) | AwsThrottledError | AwsTransientError (retried by the state machine) | AwsError
 */
export async function runPlanFailover(
  input: unknown,
  deps: FailoverDeps,
  call: TaskCall,
): Promise<FailoverState> {
  const now = deps.now();
  const previous = FailoverStateSchema.safeParse(input);
  const base: FailoverInput = previous.success
    ? previous.data
    : parseEvent(FailoverInputSchema, 'failover execution input', input);
  const lock = previous.success || base.dryRun ? undefined : await takeLock(deps, call);
  const coordinator = await deps.coordinator();
  const observed = await observeCoordinators(deps, coordinator, call);
  const decision = planFailover({
    mode: base.mode,
    dryRun: base.dryRun,
    ...(base.attachmentId === undefined ? {} : { expectedAttachmentId: base.attachmentId }),
    eni: observed.eni,
    ...(observed.active === undefined ? {} : { active: observed.active }),
    candidates: observed.candidates,
    ...(lock === undefined ? {} : { lock }),
  });
  logger.info('Failover plan', { plan: decision, candidates: observed.candidates, active: observed.active });
  const state: FailoverState = previous.success
    ? { ...previous.data, plan: decision }
    : {
        ...base,
        cluster: deps.config.CLUSTER_NAME,
        failureAtMs: now - base.detectedAfterMs,
        startedAtMs: now,
        plan: decision,
        baselineWorkers: await workerBaseline(deps, call),
        standbyWaits: 0,
        standbyWaitSeconds: deps.config.STANDBY_WAIT_SECONDS,
        giveUp: false,
        timeline: [],
      };
  return note(state, now, `Planned: ${decision.action}. ${decision.reason}`);
}
