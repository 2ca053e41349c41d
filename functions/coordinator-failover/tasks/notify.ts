/**
 * NotifyFailure (every Catch's target): first, a failover that stopped after its detach must not leave the cluster
 * headless — when this execution planned a move, holds the lock and the ENI is `available`, attach it to a healthy
 * standby (never the one whose attach just failed), or back to the old holder when it answers
 * ({@link decideRecovery}), and wait a bounded time for the coordinator to serve through the ENI address — then
 * alarm with the error, the plan, the recovery and the timeline. The execution then fails.
 *
 * Its input is whatever state the failed Task had: after a failed first step, only the execution input and the
 * error ({@link FailureState}); it never fails on that.
 *
 * @module
 */
import { attachEni, describeEni } from '../../../lib/aws/ec2.ts';
import { lockCandidates } from '../../../lib/aws/sfn.ts';
import { decideLock, stateMachineOf } from '../../../lib/failover-lock.ts';
import { logger } from '../../../lib/logger.ts';
import { decideRecovery } from '../decide.ts';
import { type FailoverDeps, notifyOrThrow, type TaskCall } from '../deps.ts';
import { answers, observeCoordinators } from '../observe.ts';
import { FailoverStateSchema, type FailureState } from '../schemas.ts';
import { runFenceFailed } from './fence.ts';

/** How long the recovery waits for the coordinator to answer on the ENI address after re-attaching it, ms. */
export const RECOVERY_SERVING_WAIT_MS = 15_000;
/** Pause between two serving probes of the recovery, ms. */
const RECOVERY_PROBE_EVERY_MS = 1_000;

/** Whether this execution holds the failover lock now; `undefined` when it cannot be read (never recover then). */
async function holdsLock(deps: FailoverDeps, call: TaskCall): Promise<boolean | string> {
  const self = call.execution;
  const stateMachineArn = self === undefined ? undefined : stateMachineOf(self.id);
  if (self === undefined || stateMachineArn === undefined) {
    return 'the execution is unknown (no $$.Execution in the Task input): the lock cannot be checked';
  }
  try {
    const running = await lockCandidates(deps.sfn, stateMachineArn, self.id, call);
    const lock = decideLock({ executionArn: self.id, startDateMs: Date.parse(self.startTime) }, running);
    return lock.holds ? true : lock.reason;
  } catch (error) {
    return `the lock could not be read (${error instanceof Error ? `${error.name}: ${error.message}` : String(error)})`;
  }
}

/** Polls `GET /v1/info` through the ENI address until it answers or {@link RECOVERY_SERVING_WAIT_MS} pass. */
async function waitServing(deps: FailoverDeps, call: TaskCall): Promise<boolean> {
  const coordinator = await deps.coordinator();
  const deadline = deps.now() + RECOVERY_SERVING_WAIT_MS;
  for (let attempt = 0; attempt < 60; attempt += 1) {
    if (await answers(coordinator, deps.config.PROBE_TIMEOUT_MS, true, call)) return true;
    if (deps.now() + RECOVERY_PROBE_EVERY_MS > deadline || call.signal?.aborted) return false;
    await new Promise((resolve) => setTimeout(resolve, RECOVERY_PROBE_EVERY_MS));
  }
  return false;
}

/** Observes and, when the ENI was left detached, reattaches it. @returns What was done, for the timeline. */
async function recover(state: FailureState, deps: FailoverDeps, call: TaskCall): Promise<string> {
  const lock = await holdsLock(deps, call);
  if (lock !== true) return `not attempted: ${lock}`;
  const coordinator = await deps.coordinator();
  const observed = await observeCoordinators(deps, coordinator, call);
  const oldId = state.plan?.failedInstanceId;
  const old = observed.candidates.find((c) => c.instanceId === oldId);
  const failedStandby = state.attachFailed ? state.plan?.standbyInstanceId : undefined;
  const full = FailoverStateSchema.safeParse(state);
  const recovery = decideRecovery(
    observed.eni,
    observed.candidates.filter((c) => c.instanceId !== failedStandby),
    oldId === undefined
      ? undefined
      : {
          instanceId: oldId,
          // The holder is never probed as a candidate (observe.ts): whether it answers is the `active` reading.
          answers: observed.active === undefined ? (old?.healthy ?? false) : observed.active.processAnswers,
          state: old?.state ?? observed.active?.state ?? 'terminated',
          fenceAction: state.plan?.fence?.instanceAction ?? 'NONE',
          fenced: full.success && full.data.fenced !== undefined,
        },
  );
  if (recovery.action !== 'ATTACH') return recovery.reason;
  if (recovery.fenceFirst) {
    if (!full.success)
      return `not attempted: the old holder ${oldId} must be fenced first and the state is incomplete`;
    try {
      await runFenceFailed(full.data, deps, call);
    } catch (error) {
      return `not attempted: the old holder ${oldId} could not be fenced (${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}), so the ENI stays detached rather than serve from two coordinators`;
    }
  }
  await attachEni(
    deps.ec2,
    observed.eni.networkInterfaceId,
    recovery.instanceId,
    deps.config.ENI_DEVICE_INDEX,
    call,
  );
  const serving = await waitServing(deps, call);
  const now = await describeEni(deps.ec2, deps.config.COORDINATOR_ENI_ID, call).catch(() => undefined);
  const holder = now?.attachment?.instanceId ?? 'unknown';
  return `${recovery.reason}; the ENI is now on ${holder}; ${
    serving
      ? 'the coordinator answers on the ENI address'
      : `the coordinator did NOT answer on the ENI address within ${RECOVERY_SERVING_WAIT_MS / 1000} s`
  }${failedStandby === undefined ? '' : ` (${failedStandby}, whose attach failed, was not chosen)`}`;
}

/**
 * @param state - The failed Task's state ({@link FailureState}).
 * @throws AwsThrottledError | AwsTransientError | AwsError when the notification cannot be published (Step Functions
 *   retries the transient ones; the recovery before it is idempotent: an attached ENI is left as it is). A recovery
 *   that cannot run (EC2 unreadable, the lock unknown) is reported in the notification, never thrown.
 */
export async function runNotifyFailure(
  state: FailureState,
  deps: FailoverDeps,
  call: TaskCall,
): Promise<FailureState> {
  const now = deps.now();
  const cluster = state.cluster ?? deps.config.CLUSTER_NAME;
  const plannedMove = state.plan?.action === 'FAILOVER' && state.dryRun !== true;
  const outcome = plannedMove
    ? await recover(state, deps, call).catch(
        (error: unknown) =>
          `could not run (${error instanceof Error ? `${error.name}: ${error.message}` : String(error)})`,
      )
    : `not needed (${state.dryRun === true ? 'a dry run' : `the plan was ${state.plan?.action ?? 'never made'}`}: this execution moved nothing)`;
  const event = `Recovery: ${outcome}`;
  logger.info(event, { cluster, mode: state.mode, dryRun: state.dryRun });
  const next: FailureState = { ...state, cluster, timeline: [...state.timeline, { atMs: now, event }] };
  logger.error('Failover failed', { error: next.error, plan: next.plan, timeline: next.timeline });
  const sent = await notifyOrThrow(
    deps,
    `Trino coordinator failover FAILED (${cluster})`,
    {
      cluster,
      error: next.error,
      plan: next.plan,
      timeline: next.timeline,
      ...(call.execution === undefined ? {} : { executionArn: call.execution.id }),
    },
    call,
  );
  if (!sent) logger.warn('No alarm topic configured (ALARM_TOPIC_ARN): the failure was only logged');
  return next;
}
