/**
 * Pure decisions of coordinator failover about the coordinator ENI: when a detach is done or must be forced,
 * whether to attach, and the wait for the attach (the fencing argument: ../decide.ts).
 * No I/O, no clock: observations and time are arguments.
 *
 * @module
 */

/** ENI attachment as EC2 reports it (`DescribeNetworkInterfaces`). */
export interface EniView {
  /** `available` | `in-use` | `attaching` | `detaching` | `associated`. */
  readonly status: string;
  readonly attachment?: {
    readonly attachmentId: string;
    readonly instanceId?: string;
    /** `attaching` | `attached` | `detaching` | `detached`. */
    readonly status: string;
    readonly deviceIndex?: number;
  };
}

/** Steps while waiting for a detach. `MOVED`: the ENI carries another attachment than the plan's (stand down). */
export const DETACH_STEPS = ['DETACHED', 'WAIT', 'FORCE', 'GIVE_UP', 'MOVED'] as const;
/** Next step while waiting for a detach. */
export type DetachStep = (typeof DETACH_STEPS)[number];

/**
 * Decides while waiting for the ENI to detach from the failed instance. Only the planned attachment is ever
 * detached: an ENI attached under another attachment id was moved by someone else (another execution, a drill),
 * so this execution stands down (`MOVED`) instead of ripping it off the coordinator just promoted.
 * @param eni - Current view.
 * @param plannedAttachmentId - The attachment the plan detaches.
 * @param elapsedMs - Since the detach request.
 * @param forced - Whether a forced detach was already sent.
 * @param policy - `forceAfterMs` (escalate a stuck normal detach), `giveUpAfterMs` (fail the execution, alarm).
 */
export function decideDetach(
  eni: EniView,
  plannedAttachmentId: string | undefined,
  elapsedMs: number,
  forced: boolean,
  policy: { readonly forceAfterMs: number; readonly giveUpAfterMs: number },
): DetachStep {
  const attachment = eni.attachment?.status === 'detached' ? undefined : eni.attachment;
  if (eni.status === 'available' && attachment === undefined) return 'DETACHED';
  if (attachment !== undefined && attachment.attachmentId !== plannedAttachmentId) return 'MOVED';
  if (elapsedMs >= policy.giveUpAfterMs) return 'GIVE_UP';
  if (!forced && elapsedMs >= policy.forceAfterMs) return 'FORCE';
  return 'WAIT';
}

/**
 * Guards the attach: only an unattached ENI may be attached (EC2 refuses otherwise; moto does not, so we check).
 * @returns `ATTACH`; `ALREADY_ATTACHED` (to the target: an idempotent retry); `MOVED` (attached to another
 *   instance: another actor moved it, stand down); `REFUSE` (no attachment but not `available`, e.g. still
 *   `detaching`: fail loudly rather than guess).
 */
export function decideAttach(
  eni: EniView,
  targetInstanceId: string,
): 'ATTACH' | 'ALREADY_ATTACHED' | 'MOVED' | 'REFUSE' {
  const attachment = eni.attachment;
  if (attachment === undefined || attachment.status === 'detached')
    return eni.status === 'available' ? 'ATTACH' : 'REFUSE';
  if (attachment.instanceId === targetInstanceId) {
    return attachment.status === 'detaching' ? 'REFUSE' : 'ALREADY_ATTACHED';
  }
  return 'MOVED';
}

/** Steps while waiting for the attach. `MOVED`: the ENI went to another instance (another actor won; stand down). */
export const ATTACH_STEPS = ['ATTACHED', 'WAIT', 'MOVED', 'TIMEOUT'] as const;
/** Next step while waiting for the ENI to be attached to the standby. */
export type AttachStep = (typeof ATTACH_STEPS)[number];

/**
 * Decides while waiting for the attach to complete.
 * @returns `ATTACHED` (attachment to the target `attached`), `MOVED` (attached to another instance: someone else
 *   won; stand down), `TIMEOUT` after `timeoutMs`, else `WAIT`.
 */
export function decideAttachWait(
  eni: EniView,
  targetInstanceId: string,
  elapsedMs: number,
  timeoutMs: number,
): AttachStep {
  const attachment = eni.attachment;
  if (attachment?.instanceId === targetInstanceId && attachment.status === 'attached') return 'ATTACHED';
  if (attachment?.instanceId !== undefined && attachment.instanceId !== targetInstanceId) return 'MOVED';
  return elapsedMs >= timeoutMs ? 'TIMEOUT' : 'WAIT';
}
