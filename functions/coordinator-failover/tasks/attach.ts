/**
 * AttachEni and CheckAttach: attach the ENI to the chosen standby only when it is unattached, and wait for
 * `attached`. An ENI found on another instance was moved by another actor: this execution stands down.
 *
 * @module
 */
import { type AwsCall, attachEni, describeEni } from '../../../lib/aws/ec2.ts';
import { EniAttachedElsewhereError, FailoverTimeoutError } from '../../../lib/errors.ts';
import { decideAttach, decideAttachWait } from '../decide.ts';
import { type FailoverDeps, note } from '../deps.ts';
import type { FailoverState } from '../schemas.ts';

function standDown(
  state: FailoverState,
  now: number,
  holder: string | undefined,
  event: string,
): FailoverState {
  return note(
    {
      ...state,
      attach: { requestedAtMs: state.attach?.requestedAtMs ?? now, step: 'MOVED' },
      plan: {
        ...state.plan,
        action: 'ALREADY_MOVED',
        reason: `The ENI is on ${holder ?? 'another instance'}: another actor moved it; standing down`,
      },
    },
    now,
    event,
  );
}

/**
 * AttachEni: `AttachNetworkInterface` to the standby when the ENI is `available` with no attachment (EC2 refuses
 * otherwise; moto does not, so we check).
 * @throws EniAttachedElsewhereError when the ENI is in a state we must not guess about (e.g. still `detaching`);
 *   FailoverTimeoutError without a standby in the plan; AwsThrottledError | AwsError.
 */
export async function runAttachEni(
  state: FailoverState,
  deps: FailoverDeps,
  call: AwsCall,
): Promise<FailoverState> {
  const now = deps.now();
  const target = state.plan.standbyInstanceId;
  if (target === undefined) throw new FailoverTimeoutError('No standby in the plan at AttachEni');
  const eni = await describeEni(deps.ec2, deps.config.COORDINATOR_ENI_ID, call);
  const decision = decideAttach(eni, target);
  if (decision === 'MOVED') {
    return standDown(
      state,
      now,
      eni.attachment?.instanceId,
      `The ENI is already on ${eni.attachment?.instanceId}, not ${target}: standing down`,
    );
  }
  if (decision === 'REFUSE') {
    throw new EniAttachedElsewhereError(
      `The coordinator ENI is ${eni.status} (attachment ${eni.attachment?.status ?? 'none'}); refusing to attach it to ${target}`,
      { context: { networkInterfaceId: eni.networkInterfaceId, target, holder: eni.attachment?.instanceId } },
    );
  }
  const attachmentId =
    decision === 'ATTACH'
      ? await attachEni(deps.ec2, eni.networkInterfaceId, target, deps.config.ENI_DEVICE_INDEX, call)
      : eni.attachment?.attachmentId;
  return note(
    {
      ...state,
      attach: { requestedAtMs: now, step: 'WAIT', ...(attachmentId === undefined ? {} : { attachmentId }) },
    },
    now,
    decision === 'ATTACH'
      ? `AttachNetworkInterface to ${target} sent (${attachmentId ?? 'no attachment id'})`
      : `The ENI is already on ${target}`,
  );
}

/**
 * CheckAttach: waits for the attachment to the standby to be `attached`.
 * @throws FailoverTimeoutError after `ATTACH_TIMEOUT_MS` | AwsThrottledError | AwsError
 */
export async function runCheckAttach(
  state: FailoverState,
  deps: FailoverDeps,
  call: AwsCall,
): Promise<FailoverState> {
  const now = deps.now();
  const target = state.plan.standbyInstanceId ?? '';
  const attach = state.attach ?? { requestedAtMs: now, step: 'WAIT' as const };
  const eni = await describeEni(deps.ec2, deps.config.COORDINATOR_ENI_ID, call);
  const step = decideAttachWait(eni, target, now - attach.requestedAtMs, deps.config.ATTACH_TIMEOUT_MS);
  if (step === 'MOVED') {
    return standDown(
      state,
      now,
      eni.attachment?.instanceId,
      `The ENI went to ${eni.attachment?.instanceId}, not ${target}: standing down`,
    );
  }
  if (step === 'TIMEOUT') {
    throw new FailoverTimeoutError(
      `The ENI is not attached to ${target} after ${deps.config.ATTACH_TIMEOUT_MS} ms`,
      {
        context: { networkInterfaceId: eni.networkInterfaceId, target, eniStatus: eni.status },
      },
    );
  }
  const updated = {
    ...state,
    attach: { ...attach, step, ...(step === 'ATTACHED' ? { attachedAtMs: now } : {}) },
  };
  return step === 'ATTACHED' ? note(updated, now, `ENI attached to ${target}`) : updated;
}
