/**
 * The failover lock, as a pure decision: at most one execution of the coordinator failover state machine acts on a
 * cluster at a time, whoever started it (the health detector, the operator CLI, the console). Every execution
 * takes the lock first (PlanFailover), and NotifyFailure checks it again before it moves the ENI to recover.
 *
 * The lock is the state machine's own list of RUNNING executions (`ListExecutions`), ordered by start time: the
 * execution that started first holds it, every later one stands down. A dry run changes nothing, so it neither
 * takes the lock nor is blocked by it. An execution whose input could not be read counts as a holder (unknown
 * never moves the ENI). No table, no lease to expire: the lock is released exactly when its holder stops running,
 * however it ends (succeeded, failed, timed out, aborted by hand).
 *
 * AWS documents `ListExecutions` as eventually consistent, so two executions started within that window may both
 * see themselves first; the ENI's own rules are the second line then: each detaches only the attachment it planned
 * and attaches only an ENI that is `available` with no attachment, so EC2 lets exactly one of them move it
 * (docs/failover.md, "The lock").
 *
 * No I/O, no clock. Source: AWS Step Functions API reference, ListExecutions (`executionArn`, `startDate`),
 * DescribeExecution (`input`); the context object's `$$.Execution.Id` and `$$.Execution.StartTime`.
 *
 * @module
 */

/**
 * What an execution's input says about it: `DRY_RUN` (`"dryRun": true`: changes nothing), `REAL`, `GONE` (no
 * such execution any more: it ended between the list and the read), `UNKNOWN` (the read failed).
 */
export type LockReading = 'DRY_RUN' | 'REAL' | 'GONE' | 'UNKNOWN';

/** One RUNNING execution of the failover state machine, other than the one deciding. */
export interface LockCandidate {
  readonly executionArn: string;
  /** Epoch ms of its start (`ListExecutions` `startDate`). */
  readonly startDateMs: number;
  readonly reading: LockReading;
}

/** The execution deciding: its ARN (`$$.Execution.Id`) and start (`$$.Execution.StartTime`, epoch ms). */
export interface LockSelf {
  readonly executionArn: string;
  readonly startDateMs: number;
}

/** Whether the deciding execution holds the lock, and if not, which execution does. */
export type LockDecision =
  | { readonly holds: true; readonly reason: string }
  | { readonly holds: false; readonly holderArn: string; readonly reason: string };

/**
 * Reads an execution's input (the JSON text it was started with) as a {@link LockReading}.
 * @param input - `DescribeExecution`'s `input`; `undefined` when the execution no longer exists.
 * @returns `DRY_RUN` only for an object whose `dryRun` is `true`; text that is not JSON is `REAL` (it can only be
 *   a real start: the state machine would reject it at planning, but until then it holds the lock).
 */
export function readLockInput(input: string | undefined): LockReading {
  if (input === undefined) return 'GONE';
  try {
    const parsed: unknown = JSON.parse(input);
    return typeof parsed === 'object' && parsed !== null && 'dryRun' in parsed && parsed.dryRun === true
      ? 'DRY_RUN'
      : 'REAL';
  } catch {
    return 'REAL';
  }
}

/** Whether `a` started before `b`: earlier start, then the smaller ARN (a total order, the same for every reader). */
function before(a: LockSelf, b: LockSelf): boolean {
  return a.startDateMs !== b.startDateMs ? a.startDateMs < b.startDateMs : a.executionArn < b.executionArn;
}

/**
 * Decides whether `self` holds the lock. Pure.
 * @param self - The deciding execution.
 * @param running - The RUNNING executions `ListExecutions` returned (self among them or not: it is skipped).
 * @returns `holds: true` when no other real (or unreadable) running execution started before `self`.
 * @example decideLock({ executionArn: a, startDateMs: 2 }, [{ executionArn: b, startDateMs: 1, reading: 'REAL' }]) // holds: false, holderArn: b
 */
export function decideLock(self: LockSelf, running: readonly LockCandidate[]): LockDecision {
  const earlier = running
    .filter((e) => e.executionArn !== self.executionArn)
    .filter((e) => e.reading === 'REAL' || e.reading === 'UNKNOWN')
    .filter((e) => before(e, self))
    .sort((a, b) => (before(a, b) ? -1 : 1));
  const holder = earlier[0];
  if (holder === undefined) {
    return {
      holds: true,
      reason: 'No other failover execution of this cluster started earlier and still runs',
    };
  }
  return {
    holds: false,
    holderArn: holder.executionArn,
    reason: `Failover execution ${holder.executionArn} started earlier and still runs${holder.reading === 'UNKNOWN' ? ' (its input could not be read: taken as a real failover)' : ''}: it holds the lock`,
  };
}

/**
 * The state machine an execution belongs to, from its ARN.
 * @param executionArn - `arn:<partition>:states:<region>:<account>:execution:<stateMachineName>:<executionName>`.
 * @returns `arn:<partition>:states:<region>:<account>:stateMachine:<stateMachineName>`, or `undefined` when the
 *   ARN is not an execution ARN.
 */
export function stateMachineOf(executionArn: string): string | undefined {
  const parts = executionArn.split(':');
  if (parts.length < 8 || parts[0] !== 'arn' || parts[2] !== 'states' || parts[5] !== 'execution') {
    return undefined;
  }
  return [...parts.slice(0, 5), 'stateMachine', parts[6]].join(':');
}
