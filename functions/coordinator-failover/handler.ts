/**
 * coordinator-failover: ONE Lambda function runs every Task state of statemachines/coordinator-failover.asl.json
 * (each Task sends `{"task": "<name>", "state.$": "$"}`), dispatching on the registry (./registry.ts). One
 * function instead of ten: a failover after quiet weeks meets one cold start on its path, not ten.
 *
 * The tasks (./tasks/): PlanFailover (observe, plan, stand down or dry-run), AwaitStandby (no standby: alarm,
 * scale out, wait), DetachEni/CheckDetach (only the planned attachment), FenceFailed, AttachEni/CheckAttach (only
 * an unattached ENI), CheckServing, CompleteFailover, NotifyFailure (recover a detached ENI, then alarm).
 *
 * The lock belongs to the execution (lib/failover-lock.ts): PlanFailover takes it first, whoever started the
 * execution (the detector, the CLI, the console): the earliest RUNNING execution that is not a dry run holds it and
 * every later one stands down (`LOCKED`); NotifyFailure checks it again before it moves the ENI to recover. Behind
 * it, the ENI's own rules: stand down at planning (`ALREADY_MOVED`), at CheckDetach (another attachment than
 * planned) and at AttachEni (attached elsewhere): exactly one ENI move.
 *
 * @module
 */
import { defineHandler } from '../../lib/handler.ts';
import { type FailoverDeps, getDefaultFailoverDeps } from './deps.ts';
import { FAILOVER_TASKS } from './registry.ts';
import { FailoverTaskInputSchema } from './schemas.ts';

/** Builds the handler over the given dependencies. */
export function makeFailoverHandler(deps: () => FailoverDeps = getDefaultFailoverDeps) {
  return defineHandler(
    {
      schema: FailoverTaskInputSchema,
      source: 'failover task input',
      run: (input, d: FailoverDeps, { signal }) =>
        FAILOVER_TASKS[input.task](input.state, d, {
          signal,
          ...(input.execution === undefined ? {} : { execution: input.execution }),
        }),
    },
    deps,
  );
}

/** Lambda entry point (serverless.yml: `coordinatorFailover`). */
export const handler = makeFailoverHandler();
