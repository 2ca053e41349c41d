/**
 * The failover's task registry: Task state name → run function. The one failover Lambda dispatches on it; the
 * state machine's `Parameters.task` values, serverless.yml, the harness and the tests all take their names from
 * here (a test checks the ASL against it).
 *
 * @module
 */
import { parseEvent } from '../../lib/middleware.ts';
import type { FailoverDeps, TaskCall } from './deps.ts';
import {
  type FailoverState,
  FailoverStateSchema,
  type FailoverTaskName,
  type FailureState,
  FailureStateSchema,
} from './schemas.ts';
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
  call: TaskCall,
) => Promise<FailoverState | FailoverResult | FailureState>;

/** Wraps a task that takes the parsed execution state. @throws ValidationError when the state does not parse. */
function onState(
  run: (state: FailoverState, deps: FailoverDeps, call: TaskCall) => Promise<FailoverState | FailoverResult>,
): FailoverTask {
  return (state, deps, call) => run(parseEvent(FailoverStateSchema, 'failover state', state), deps, call);
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
  // Whatever the failed Task's state held (after a failed first step: only the execution input): never a parse
  // error, the notification must go out.
  NotifyFailure: (state, deps, call) => {
    const parsed = FailureStateSchema.safeParse(state);
    return runNotifyFailure(
      parsed.success ? parsed.data : { timeline: [], unreadableState: true },
      deps,
      call,
    );
  },
};
