/**
 * Bench figures of the worker drain, from one scale-in drill in the sandbox (moto + real secure Trino 476 with
 * two workers): the lag between the worker's last task ending (it reports DRAINED) and CompleteLifecycleAction
 * (goal ≤ poll interval + 5 s), and the Step Functions state transitions per drained worker-hour.
 */
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
  // States entered: BeginDrain, then (WaitForDrain, CheckDrain, IsDrainDone) per check, then CompleteLifecycleAction.
  const checks = Math.max(1, (result.stateTransitions - 2) / 3);
  const transitionsPerCheck = Math.round(((result.stateTransitions - 2) / checks) * 100) / 100;
  const figures: DrainFigures = {
    pollSeconds,
    lastTaskToCompleteMs: result.lastTaskToCompleteMs,
    goalMs: (pollSeconds + 5) * 1000,
    drainSeconds: result.drainSeconds,
    heartbeats: result.heartbeats,
    stateTransitions: result.stateTransitions,
    transitionsPerCheck,
    stateTransitionsPerDrainedWorkerHour: Math.round(transitionsPerCheck * (3600 / 30)),
  };
  log(
    `drain                last task → CompleteLifecycleAction ${figures.lastTaskToCompleteMs} ms (goal ≤ ${figures.goalMs} ms at ${pollSeconds} s poll); ` +
      `${figures.stateTransitionsPerDrainedWorkerHour} state transitions per drained worker-hour at 30 s poll`,
  );
  return figures;
}
