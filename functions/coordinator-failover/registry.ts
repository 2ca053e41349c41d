/**
 * The failover's task registry: Task state name → run function. The one failover Lambda dispatches on it; the
 * state machine's `Parameters.task` values, serverless.yml, the harness and the tests all take their names from
 * here (a test checks the ASL against it).
 *
 * @module
 */
import type { AwsCall } from '../../lib/aws/ec2.ts';
import type { FailoverDeps } from './deps.ts';
import { type FailoverState, FailoverStateSchema, type FailoverTaskName } from './schemas.ts';
import { runAttachEni, runCheckAttach } from './tasks/attach.ts';
import { runAwaitStandby } from './tasks/await-standby.ts';
import { type FailoverResult, runCompleteFailover } from './tasks/complete.ts';
import { runCheckDetach, runDetachEni } from './tasks/detach.ts';
import { runFenceFailed } from './tasks/fence.ts';
import { runNotifyFailure } from './tasks/notify.ts';
import { runPlanFailover } from './tasks/plan.ts';
import { runCheckServing } from './tasks/serving.ts';

/** A task: its parsed state in, the next state (or the final result) out. */
export type FailoverTask = (
  state: unknown,
  deps: FailoverDeps,
  call: AwsCall,
) => Promise<FailoverState | FailoverResult>;

/** Wraps a task that takes the parsed execution state. @throws ValidationError when the state does not parse. */
function onState(
  run: (state: FailoverState, deps: FailoverDeps, call: AwsCall) => Promise<FailoverState | FailoverResult>,
): FailoverTask {
  return (state, deps, call) => run(FailoverStateSchema.parse(state), deps, call);
}

/** Task state name → task. */
export const FAILOVER_TASKS: Readonly<Record<FailoverTaskName, FailoverTask>> = {
  PlanFailover: runPlanFailover,
  AwaitStandby: onState(runAwaitStandby),
  DetachEni: onState(runDetachEni),
  CheckDetach: onState(runCheckDetach),
  FenceFailed: onState(runFenceFailed),
  AttachEni: onState(runAttachEni),
  CheckAttach: onState(runCheckAttach),
  CheckServing: onState(runCheckServing),
  CompleteFailover: onState(runCompleteFailover),
  NotifyFailure: onState(runNotifyFailure),
};
