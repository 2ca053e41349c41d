/**
 * PlanFailover: observes the ENI, its holder and the coordinator group, then plans with {@link planFailover}
 * (fail over, dry-run, wait for a standby, or stand down). Also the re-entry point after a standby wait.
 *
 * @module
 */
import { describeGroup } from '../../../lib/aws/autoscaling.ts';
import type { AwsCall } from '../../../lib/aws/ec2.ts';
import { logger } from '../../../lib/logger.ts';
import { planFailover } from '../decide.ts';
import { type FailoverDeps, note } from '../deps.ts';
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
 * @param input - The execution input on first entry ({@link FailoverInputSchema}), the state afterwards.
 * @throws ValidationError (bad input) | AwsThrottledError (retried by the state machine) | AwsError
 */
export async function runPlanFailover(
  input: unknown,
  deps: FailoverDeps,
  call: AwsCall,
): Promise<FailoverState> {
  const now = deps.now();
  const previous = FailoverStateSchema.safeParse(input);
  const base: FailoverInput = previous.success ? previous.data : FailoverInputSchema.parse(input);
  const coordinator = await deps.coordinator();
  const observed = await observeCoordinators(deps, coordinator, call);
  const decision = planFailover({
    mode: base.mode,
    dryRun: base.dryRun,
    ...(base.attachmentId === undefined ? {} : { expectedAttachmentId: base.attachmentId }),
    eni: observed.eni,
    ...(observed.active === undefined ? {} : { active: observed.active }),
    candidates: observed.candidates,
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
