/**
 * NotifyFailure (every Catch's target): first, a failover that stopped after its detach must not leave the cluster
 * headless — when the ENI is `available`, attach it to a healthy standby, or back to the old holder when it answers
 * ({@link decideRecovery}) — then alarm with the error, the plan, the recovery and the timeline. The execution
 * then fails.
 *
 * @module
 */
import { type AwsCall, attachEni } from '../../../lib/aws/ec2.ts';
import { logger } from '../../../lib/logger.ts';
import { decideRecovery } from '../decide.ts';
import { type FailoverDeps, note, notify } from '../deps.ts';
import { observeCoordinators } from '../observe.ts';
import type { FailoverState } from '../schemas.ts';

/** Observes and, when the ENI was left detached, reattaches it. @returns What was done, for the timeline. */
async function recover(state: FailoverState, deps: FailoverDeps, call: AwsCall): Promise<string> {
  const coordinator = await deps.coordinator();
  const observed = await observeCoordinators(deps, coordinator, call);
  const oldId = state.plan.failedInstanceId;
  const old = observed.candidates.find((c) => c.instanceId === oldId);
  const recovery = decideRecovery(
    observed.eni,
    observed.candidates,
    oldId === undefined || old === undefined
      ? undefined
      : { instanceId: oldId, answers: old.healthy, state: old.state },
  );
  if (recovery.action === 'ATTACH') {
    await attachEni(
      deps.ec2,
      observed.eni.networkInterfaceId,
      recovery.instanceId,
      deps.config.ENI_DEVICE_INDEX,
      call,
    );
  }
  return recovery.reason;
}

/**
 * @throws nothing: a recovery that cannot run (EC2 unreadable) is reported in the notification, because the
 *   notification must go out whatever happens.
 */
export async function runNotifyFailure(
  state: FailoverState,
  deps: FailoverDeps,
  call: AwsCall,
): Promise<FailoverState> {
  const now = deps.now();
  let next = state;
  if (!state.dryRun) {
    const outcome = await recover(state, deps, call).catch(
      (error: unknown) =>
        `could not run (${error instanceof Error ? `${error.name}: ${error.message}` : String(error)})`,
    );
    next = note(next, now, `Recovery: ${outcome}`);
  }
  logger.error('Failover failed', { error: next.error, plan: next.plan, timeline: next.timeline });
  await notify(
    deps,
    `Trino coordinator failover FAILED (${next.cluster})`,
    { cluster: next.cluster, error: next.error, plan: next.plan, timeline: next.timeline },
    call,
  );
  return next;
}
