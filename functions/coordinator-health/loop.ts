/**
 * The probe loop of one coordinator-health invocation: a round every `PROBE_INTERVAL_MS` on the grid of
 * {@link roundSchedule} (gather ./probe.ts → decide {@link assessRound}), `CoordinatorHealthy` published once per
 * invocation as one statistic set (0/1 per round), and on a confirmed failure ./start-failover.ts. The detector
 * state is carried across invocations through ./store.ts (read once at the start, {@link resumeState} decides
 * whether the stored run is fresh enough to continue; written once at the end), and the last round of a scheduled
 * invocation ends just before the next invocation starts, which takes over one interval later: no unprobed gap
 * and no reset at the minute.
 *
 * @module
 */
import { type AwsCall, describeEni } from '../../lib/aws/ec2.ts';
import { type Observed, observe } from '../../lib/aws/observed.ts';
import { logger } from '../../lib/logger.ts';
import { publishMetricSet } from '../../lib/metrics-sink.ts';
import {
  assessRound,
  type DetectorState,
  HEALTHY,
  type HealthVerdict,
  needsSecondSignal,
  nextRoundAtMs,
  type ProbeRound,
  type Resumed,
  resumeState,
  roundSchedule,
} from './decide.ts';
import type { HealthDeps } from './deps.ts';
import { type Holder, holderOf, probe, secondSignals } from './probe.ts';
import { type FailoverStart, onConfirmedFailure } from './start-failover.ts';
import { readStoredState, writeStoredState } from './store.ts';

/** Result of one invocation. */
export interface HealthRunResult extends FailoverStart {
  readonly rounds: number;
  readonly unhealthyRounds: number;
  readonly verdict: HealthVerdict | undefined;
  readonly state: DetectorState;
  /** Whether the stored state was continued (`FRESH`), discarded as too old (`STALE`), or absent (`NONE`). */
  readonly carried: Resumed['carried'];
  /** Epoch ms each round was planned at (each starts then, or a few ms later). */
  readonly roundsAtMs: readonly number[];
}

/**
 * Runs the probe loop of one invocation: gather → {@link assessRound} → publish, until a confirmed failure or the
 * schedule's last round ({@link roundSchedule}).
 * @param initial - Detector state to start from; by default the stored state ({@link resumeState} over ./store.ts).
 * @param call - The handler's abort signal (stops the loop before the Lambda timeout).
 * @param scheduledAtMs - The scheduled event's `time` (epoch ms): the loop ends just before the next invocation.
 */
export async function runHealthLoop(
  deps: HealthDeps,
  initial?: DetectorState,
  call: AwsCall = {},
  scheduledAtMs?: number,
): Promise<HealthRunResult> {
  const client = await deps.coordinator();
  const start = deps.now();
  const handover = {
    probeIntervalMs: deps.config.PROBE_INTERVAL_MS,
    handoverJitterMs: deps.config.HANDOVER_JITTER_MS,
  };
  const resumed: Resumed =
    initial === undefined
      ? resumeState(await readStoredState(deps, call), start, handover)
      : { state: initial, firstRoundAtMs: start, carried: 'NONE' };
  if (resumed.carried !== 'NONE') {
    logger.info('Detector state carried over', {
      carried: resumed.carried,
      consecutiveFailures: resumed.state.consecutiveFailures,
    });
  }
  const schedule = roundSchedule({
    scheduledAtMs,
    startMs: start,
    firstRoundAtMs: resumed.firstRoundAtMs,
    loopDurationMs: deps.config.LOOP_DURATION_MS,
    probeIntervalMs: deps.config.PROBE_INTERVAL_MS,
  });
  let state = resumed.state;
  const roundsAtMs: number[] = [];
  const store = (stored: DetectorState) => {
    const lastProbeAtMs = roundsAtMs.at(-1);
    return lastProbeAtMs === undefined
      ? Promise.resolve()
      : writeStoredState(deps, { ...stored, lastProbeAtMs }, call);
  };
  let verdict: HealthVerdict | undefined;
  let rounds = 0;
  let unhealthyRounds = 0;
  const policy = { failuresToConfirm: deps.config.FAILURES_TO_CONFIRM };
  const publishHealth = () =>
    rounds === 0
      ? Promise.resolve()
      : publishMetricSet(
          deps.cloudwatch,
          [
            {
              name: 'CoordinatorHealthy',
              unit: 'Count',
              value: unhealthyRounds === 0 ? 1 : 0,
              statistics: {
                sampleCount: rounds,
                sum: rounds - unhealthyRounds,
                minimum: unhealthyRounds > 0 ? 0 : 1,
                maximum: unhealthyRounds < rounds ? 1 : 0,
              },
            },
          ],
          {
            sink: deps.config.METRICS_SINK,
            namespace: deps.config.METRICS_NAMESPACE,
            clusterName: deps.config.CLUSTER_NAME,
            timestamp: new Date(start),
          },
          call,
        ).then(
          () => undefined,
          (error: unknown) => logger.warn('Could not publish CoordinatorHealthy', { error: String(error) }),
        );
  let dueAtMs: number | undefined = resumed.firstRoundAtMs;
  while (dueAtMs !== undefined && !call.signal?.aborted) {
    await deps.sleep(Math.max(0, dueAtMs - deps.now()));
    const roundStart = deps.now();
    // The grid goes by the planned times: a round that starts a few ms late does not push the next one a whole
    // interval away, and the stored last probe keeps the next invocation on the same grid.
    roundsAtMs.push(dueAtMs);
    const viaEni = await probe(client, deps.config.PROBE_TIMEOUT_MS, call);
    let round: ProbeRound = { atMs: roundStart, viaEni };
    let holder: Observed<Holder | undefined> | undefined;
    if (viaEni === 'FAILED' && needsSecondSignal(state, policy)) {
      holder = holderOf(await observe(() => describeEni(deps.ec2, deps.config.COORDINATOR_ENI_ID, call)));
      round = { ...round, ...(await secondSignals(deps, client, holder, call)) };
    }
    verdict = assessRound(state, round, policy);
    state = verdict.state;
    rounds += 1;
    if (!verdict.healthy) unhealthyRounds += 1;
    if (!verdict.healthy) {
      logger.warn('Coordinator probe failed', {
        round,
        consecutiveFailures: state.consecutiveFailures,
        secondSignal: verdict.secondSignal,
        unknownSignals: verdict.unknownSignals,
      });
    }
    if (verdict.confirmedFailure) {
      // The failover takes it from here: the next invocation starts a new run.
      await Promise.all([publishHealth(), store(HEALTHY)]);
      const known = holder?.known ? holder.value : undefined;
      return {
        rounds,
        unhealthyRounds,
        verdict,
        ...(await onConfirmedFailure(deps, verdict, known, call)),
        state,
        carried: resumed.carried,
        roundsAtMs,
      };
    }
    dueAtMs = nextRoundAtMs(dueAtMs, schedule);
  }
  await Promise.all([store(state), publishHealth()]);
  return { rounds, unhealthyRounds, verdict, failover: 'NONE', state, carried: resumed.carried, roundsAtMs };
}
