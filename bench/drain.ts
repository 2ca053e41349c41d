/**
 * Bench figures of the worker drain, from one scale-in drill in the sandbox (moto + real secure Trino 476 with
 * two workers): the lag between the worker's last task ending (it reports DRAINED) and CompleteLifecycleAction
 * (goal ≤ poll interval + 5 s), and the Step Functions state transitions per drained worker-hour.
 */
import { drainTransitionFigures } from '../harness/drills/figures.ts';
import { runScaleInDrillInSandbox } from '../harness/drills/scale-in.ts';

/** Result of {@link drainBench}. */
export interface DrainFigures {
  readonly pollSeconds: number;
  readonly lastTaskToCompleteMs: number | null;
  readonly goalMs: number;
  readonly drainSeconds: number;
  readonly heartbeats: number;
  readonly stateTransitions: number;
  /** Transitions one check costs (WaitForDrain + CheckDrain + IsDrainDone), measured in the drill. */
  readonly transitionsPerCheck: number;
  /** At the production default poll of 30 s: transitionsPerCheck × 120 per hour. */
  readonly stateTransitionsPerDrainedWorkerHour: number;
}

/** Runs the drill once and derives the figures. */
export async function drainBench(log: (line: string) => void): Promise<DrainFigures> {
  const pollSeconds = 5;
  const result = await runScaleInDrillInSandbox({ clusterName: 'bench', pollSeconds, name: 'bench-drain' });
  const transitions = drainTransitionFigures(result.stateTransitions, pollSeconds);
  const figures: DrainFigures = {
    pollSeconds,
    lastTaskToCompleteMs: result.lastTaskToCompleteMs,
    goalMs: transitions.goalMs,
    drainSeconds: result.drainSeconds,
    heartbeats: result.heartbeats,
    stateTransitions: result.stateTransitions,
    transitionsPerCheck: transitions.transitionsPerCheck,
    stateTransitionsPerDrainedWorkerHour: transitions.stateTransitionsPerDrainedWorkerHour,
  };
  log(
    `drain                last task → CompleteLifecycleAction ${figures.lastTaskToCompleteMs} ms (goal ≤ ${figures.goalMs} ms at ${pollSeconds} s poll); ` +
      `${figures.stateTransitionsPerDrainedWorkerHour} state transitions per drained worker-hour at 30 s poll`,
  );
  return figures;
}
