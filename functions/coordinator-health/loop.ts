/**
 * The probe loop of one coordinator-health invocation: a round every `PROBE_INTERVAL_MS` for `LOOP_DURATION_MS`
 * (gather ./probe.ts → decide {@link assessRound}), `CoordinatorHealthy` published once per invocation as one
 * statistic set (0/1 per round), and on a confirmed failure ./start-failover.ts. The detector state is carried
 * across invocations of a warm container.
 *
 * @module
 */
import { type AwsCall, describeEni } from '../../lib/aws/ec2.ts';
import { type Observed, observe } from '../../lib/aws/observed.ts';
import { logger } from '../../lib/logger.ts';
import { publishMetricSet } from '../../lib/metrics-sink.ts';
import { assessRound, type DetectorState, HEALTHY, type HealthVerdict, type ProbeRound } from './decide.ts';
import type { HealthDeps } from './deps.ts';
import { type Holder, holderOf, probe, secondSignals } from './probe.ts';
import { type FailoverStart, onConfirmedFailure } from './start-failover.ts';

/** Result of one invocation. */
export interface HealthRunResult extends FailoverStart {
  readonly rounds: number;
  readonly unhealthyRounds: number;
  readonly verdict: HealthVerdict | undefined;
  readonly state: DetectorState;
}

/** Detector state kept across invocations in a warm container (a cold start begins healthy: at worst one minute late). */
let carried: DetectorState = HEALTHY;

/**
 * Runs the probe loop of one invocation: gather → {@link assessRound} → publish, until a confirmed failure or the
 * loop's duration is used up.
 * @param initial - Detector state to start from (default: the container's carried state).
 * @param call - The handler's abort signal (stops the loop before the Lambda timeout).
 */
export async function runHealthLoop(
  deps: HealthDeps,
  initial: DetectorState = carried,
  call: AwsCall = {},
): Promise<HealthRunResult> {
  const client = await deps.coordinator();
  const start = deps.now();
  let state = initial;
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
  for (;;) {
    const roundStart = deps.now();
    const viaEni = await probe(client, deps.config.PROBE_TIMEOUT_MS, call);
    let round: ProbeRound = { atMs: roundStart, viaEni };
    let holder: Observed<Holder | undefined> | undefined;
    if (viaEni !== 'OK') {
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
      carried = HEALTHY;
      await publishHealth();
      const known = holder?.known ? holder.value : undefined;
      return {
        rounds,
        unhealthyRounds,
        verdict,
        ...(await onConfirmedFailure(deps, verdict, known, call)),
        state,
      };
    }
    const elapsed = deps.now() - start;
    if (elapsed + deps.config.PROBE_INTERVAL_MS > deps.config.LOOP_DURATION_MS || call.signal?.aborted) break;
    await deps.sleep(Math.max(0, deps.config.PROBE_INTERVAL_MS - (deps.now() - roundStart)));
  }
  carried = state;
  await publishHealth();
  return { rounds, unhealthyRounds, verdict, failover: 'NONE', state };
}
