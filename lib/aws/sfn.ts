/**
 * Step Functions adapter: starting executions with AWS's name semantics, and the failover lock.
 * Source: AWS Step Functions API reference — StartExecution ("idempotent" only for an open execution with the same
 * name AND input; `ExecutionAlreadyExists` for a different input or for any closed execution of that name, names
 * being reserved for 90 days), ListExecutions.
 *
 * @module
 */
import {
  ExecutionAlreadyExists,
  ListExecutionsCommand,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
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

/**
 * Names of the state machine's RUNNING executions (`ListExecutions statusFilter=RUNNING`, all pages, at most 10).
 * @throws AwsThrottledError | AwsError
 */
export async function runningExecutions(
  sfn: SFNClient,
  stateMachineArn: string,
  call: AwsCall = {},
): Promise<string[]> {
  const names: string[] = [];
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
    names.push(...(out.executions ?? []).flatMap((e) => (e.name === undefined ? [] : [e.name])));
    nextToken = out.nextToken;
    if (nextToken === undefined) break;
  }
  return names;
}

/**
 * The lock for state machines that must never run twice at once (coordinator failover): starts an execution only
 * when none is RUNNING. The lock holds exactly while an execution runs — a closed execution never blocks the next
 * failure (execution names are reserved for 90 days, so names must be unique per attempt: see the caller's name).
 * Two callers racing between the check and the start are separated by the name (same name → one start) and by the
 * state machine's own stand-down rules.
 * @throws AwsThrottledError | AwsError
 */
export async function startExecutionOnce(
  sfn: SFNClient,
  request: { readonly stateMachineArn: string; readonly name: string; readonly input: unknown },
  call: AwsCall = {},
): Promise<StartOutcome> {
  const running = await runningExecutions(sfn, request.stateMachineArn, call);
  if (running.length > 0) return { outcome: 'ALREADY_RUNNING', running, name: request.name };
  const started = await startExecution(sfn, request, call);
  if (started.outcome !== 'NAME_TAKEN') return started;
  // A racing caller started the same name (with its own input) between our check and our start: the lock holds.
  const now = await runningExecutions(sfn, request.stateMachineArn, call);
  return now.length > 0 ? { outcome: 'ALREADY_RUNNING', running: now, name: request.name } : started;
}
