/**
 * DetachEni and CheckDetach: detach the planned attachment (force only as planned, or when a normal detach is
 * stuck) until EC2 reports the ENI available. Only the plan's attachment is ever detached: an ENI found under
 * another attachment was moved by someone else, and this execution stands down (`MOVED`).
 *
 * @module
 */
import { type AwsCall, describeEni, detachEni } from '../../../lib/aws/ec2.ts';
import { FailoverTimeoutError } from '../../../lib/errors.ts';
import { decideDetach } from '../decide.ts';
import { type FailoverDeps, note } from '../deps.ts';
import type { FailoverState } from '../schemas.ts';

/** DetachEni: `DetachNetworkInterface` of the planned attachment. Idempotent. @throws AwsThrottledError | AwsError */
export async function runDetachEni(
  state: FailoverState,
  deps: FailoverDeps,
  call: AwsCall,
): Promise<FailoverState> {
  const now = deps.now();
  const force = state.plan.fence?.forceDetach ?? false;
  const attachmentId = state.plan.attachmentId;
  const sent = attachmentId === undefined ? false : await detachEni(deps.ec2, attachmentId, force, call);
  return note(
    { ...state, detach: { requestedAtMs: now, forced: force, step: 'WAIT' } },
    now,
    sent
      ? `DetachNetworkInterface ${attachmentId} sent (force: ${force})`
      : 'The ENI has no attachment to detach',
  );
}

/**
 * CheckDetach: waits for EC2 to report the ENI available; escalates a stuck detach of the PLANNED attachment to
 * force; stands down when the ENI carries another attachment.
 * @throws FailoverTimeoutError after `DETACH_GIVE_UP_AFTER_MS` | AwsThrottledError | AwsError
 */
export async function runCheckDetach(
  state: FailoverState,
  deps: FailoverDeps,
  call: AwsCall,
): Promise<FailoverState> {
  const now = deps.now();
  const detach = state.detach ?? { requestedAtMs: now, forced: false, step: 'WAIT' as const };
  const eni = await describeEni(deps.ec2, deps.config.COORDINATOR_ENI_ID, call);
  const planned = state.plan.attachmentId;
  const step = decideDetach(eni, planned, now - detach.requestedAtMs, detach.forced, {
    forceAfterMs: deps.config.DETACH_FORCE_AFTER_MS,
    giveUpAfterMs: deps.config.DETACH_GIVE_UP_AFTER_MS,
  });
  if (step === 'FORCE' && planned !== undefined) {
    await detachEni(deps.ec2, planned, true, call);
    return note(
      { ...state, detach: { ...detach, forced: true, step: 'WAIT' } },
      now,
      `Detach stuck after ${now - detach.requestedAtMs} ms: forced DetachNetworkInterface ${planned} sent`,
    );
  }
  if (step === 'GIVE_UP') {
    throw new FailoverTimeoutError(
      `The coordinator ENI is still attached ${now - detach.requestedAtMs} ms after the detach request`,
      { context: { networkInterfaceId: deps.config.COORDINATOR_ENI_ID, eniStatus: eni.status } },
    );
  }
  if (step === 'MOVED') {
    return note(
      {
        ...state,
        detach: { ...detach, step },
        plan: {
          ...state.plan,
          action: 'ALREADY_MOVED',
          reason: `The ENI is on attachment ${eni.attachment?.attachmentId} (${eni.attachment?.instanceId}), not ${planned}: another actor moved it; standing down`,
        },
      },
      now,
      `The ENI carries attachment ${eni.attachment?.attachmentId}, not the planned ${planned}: standing down`,
    );
  }
  const updated = {
    ...state,
    detach: { ...detach, step, ...(step === 'DETACHED' ? { detachedAtMs: now } : {}) },
  };
  return step === 'DETACHED' ? note(updated, now, 'ENI detached (available, no attachment)') : updated;
}
