/**
 * Step Functions adapter: starting executions with AWS's name semantics, and the failover lock.
 * Source: AWS Step Functions API reference — StartExecution ("idempotent" only for an open execution with the same
 * name AND input; `ExecutionAlreadyExists` for a different input or for any closed execution of that name, names
 * being reserved for 90 days), ListExecutions.
 *
 * @module
 */
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  ListExecutionsCommand,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { type LockCandidate, type LockReading, readLockInput } from '../failover-lock.ts';
import { type AwsCall, sendAws } from './send.ts';

/** What a start attempt did. */
export type StartOutcome =
  /** A new execution runs (or the same open execution with the same input was returned). */
  | { readonly outcome: 'STARTED'; readonly executionArn: string; readonly name: string }
  /** Another execution of the state machine is running: nothing started (the lock). */
  | { readonly outcome: 'ALREADY_RUNNING'; readonly running: readonly string[]; readonly name: string }
  /** The name is taken (an open execution with another input, or a closed one): nothing started. */
  | { readonly outcome: 'NAME_TAKEN'; readonly name: string };

/**
 * `StartExecution`; a taken name is an outcome, not an error (a repeated event must not start a second run).
 * @throws AwsThrottledError | AwsError
 */
export async function startExecution(
  sfn: SFNClient,
  request: { readonly stateMachineArn: string; readonly name: string; readonly input: unknown },
  call: AwsCall = {},
): Promise<StartOutcome> {
  const out = await sendAws(
    {
      operation: 'Step Functions StartExecution',
      context: { name: request.name },
      answer: {
        when: (cause) => cause instanceof ExecutionAlreadyExists,
        value: () => 'NAME_TAKEN' as const,
      },
    },
    (options) =>
      sfn.send(
        new StartExecutionCommand({
          stateMachineArn: request.stateMachineArn,
          name: request.name,
          input: JSON.stringify(request.input),
        }),
        options,
      ),
    call,
  );
  return out === 'NAME_TAKEN'
    ? { outcome: 'NAME_TAKEN', name: request.name }
    : { outcome: 'STARTED', executionArn: out.executionArn ?? '', name: request.name };
}

/** One RUNNING execution, as `ListExecutions` lists it. */
export interface RunningExecution {
  readonly name: string;
  readonly executionArn: string;
  /** Epoch ms. */
  readonly startDateMs: number;
}

/**
 * The state machine's RUNNING executions (`ListExecutions statusFilter=RUNNING`, all pages, at most 10).
 * AWS documents ListExecutions as eventually consistent: an execution started a moment ago may be missing.
 * @throws AwsThrottledError | AwsTransientError | AwsError
 */
export async function runningExecutions(
  sfn: SFNClient,
  stateMachineArn: string,
  call: AwsCall = {},
): Promise<RunningExecution[]> {
  const running: RunningExecution[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < 10; page += 1) {
    const list = new ListExecutionsCommand({
      stateMachineArn,
      statusFilter: 'RUNNING',
      maxResults: 100,
      nextToken,
    });
    const out = await sendAws(
      { operation: 'Step Functions ListExecutions', context: { stateMachineArn } },
      (options) => sfn.send(list, options),
      call,
    );
    for (const e of out.executions ?? []) {
      if (e.name === undefined || e.executionArn === undefined) continue;
      running.push({ name: e.name, executionArn: e.executionArn, startDateMs: e.startDate?.getTime() ?? 0 });
    }
    nextToken = out.nextToken;
    if (nextToken === undefined) break;
  }
  return running;
}

/**
 * The input of one execution (`DescribeExecution`), as the JSON text it was started with; `undefined` when the
 * execution does not exist (any more).
 * @throws AwsThrottledError | AwsTransientError | AwsError
 */
export async function executionInput(
  sfn: SFNClient,
  executionArn: string,
  call: AwsCall = {},
): Promise<string | undefined> {
  const out = await sendAws(
    {
      operation: 'Step Functions DescribeExecution',
      context: { executionArn },
      answer: { when: (cause) => cause instanceof ExecutionDoesNotExist, value: () => undefined },
    },
    (options) => sfn.send(new DescribeExecutionCommand({ executionArn }), options),
    call,
  );
  return out?.input;
}

/**
 * Starts a failover-like execution only when no other one that holds its lock runs: a RUNNING execution that is
 * not a dry run ({@link lockCandidates}: a dry run changes nothing and blocks nothing). This only spares a start
 * that would stand down at once: the lock itself belongs to the execution (lib/failover-lock.ts, taken by
 * PlanFailover whoever started it). A closed execution never blocks the next failure (execution names are reserved
 * for 90 days, so names must be unique per attempt: see the caller's name). Two callers racing between the check
 * and the start are separated by the name (same name → one start) and by the execution's own lock.
 * @throws AwsThrottledError | AwsTransientError | AwsError
 */
export async function startExecutionOnce(
  sfn: SFNClient,
  request: { readonly stateMachineArn: string; readonly name: string; readonly input: unknown },
  call: AwsCall = {},
): Promise<StartOutcome> {
  const holders = async () =>
    (await lockCandidates(sfn, request.stateMachineArn, undefined, call))
      .filter((e) => e.reading === 'REAL' || e.reading === 'UNKNOWN')
      .map((e) => e.executionArn.split(':').at(-1) ?? e.executionArn);
  const running = await holders();
  if (running.length > 0) return { outcome: 'ALREADY_RUNNING', running, name: request.name };
  const started = await startExecution(sfn, request, call);
  if (started.outcome !== 'NAME_TAKEN') return started;
  // A racing caller started the same name (with its own input) between our check and our start: the lock holds.
  const now = await holders();
  return now.length > 0 ? { outcome: 'ALREADY_RUNNING', running: now, name: request.name } : started;
}

/**
 * Gathers what `decideLock` (lib/failover-lock.ts) needs: every RUNNING execution of the state machine except
 * `selfArn`, each with what its input says ({@link readLockInput}: a dry run holds no lock). A `DescribeExecution` that fails is read as
 * `UNKNOWN` (taken as a holder); a `ListExecutions` that fails throws: the lock cannot be taken on an unknown.
 * @param selfArn - The deciding execution (skipped); `undefined` for a caller that is not an execution.
 * @throws AwsThrottledError | AwsTransientError | AwsError (ListExecutions)
 */
export async function lockCandidates(
  sfn: SFNClient,
  stateMachineArn: string,
  selfArn: string | undefined,
  call: AwsCall = {},
): Promise<LockCandidate[]> {
  const others = (await runningExecutions(sfn, stateMachineArn, call)).filter(
    (e) => e.executionArn !== selfArn,
  );
  return Promise.all(
    others.map(async (e) => ({
      executionArn: e.executionArn,
      startDateMs: e.startDateMs,
      reading: await executionInput(sfn, e.executionArn, call).then(
        readLockInput,
        (): LockReading => 'UNKNOWN',
      ),
    })),
  );
}
